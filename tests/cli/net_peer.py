#!/usr/bin/env python3
"""Real peers for the CLI's network tests (tests/cli/net_test.cpp).

  net_peer.py http PORTFILE DIR        an HTTP server on 127.0.0.1 (port written to PORTFILE)
  net_peer.py https PORTFILE DIR CERT KEY   the same server over TLS (certificate and key in PEM)
  net_peer.py tcp-recv PORTFILE OUT    accept one TCP connection, save what it sends to OUT
  net_peer.py unix-recv PATH OUT       the same on a Unix socket at PATH
  net_peer.py tcp-send PORT FILE       connect to 127.0.0.1:PORT and send FILE, then close
  net_peer.py unix-serve PATH FILE     listen on a Unix socket at PATH, send FILE to one client

The HTTP server's paths (DIR holds the files):
  GET  /files/NAME       NAME with its Content-Length
  GET  /missing          404
  GET  /cut              Content-Length: 100000, 1000 bytes, then the connection closes
  GET  /stall            the head, then nothing for 30 s
  GET  /redirect/N       302 to /redirect/N-1; /redirect/0 goes to /files/data.bin
  GET  /loop             302 to itself
  GET  /gzip/NAME        NAME gzipped (Content-Encoding: gzip) if the client accepts gzip
  POST /upload/NAME      saves the body (Content-Length or chunked) to DIR/NAME; 200
  POST /reject           403 without reading the body
"""
import gzip
import http.server
import os
import socket
import socketserver
import ssl
import sys
import time


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, path)


class Handler(http.server.BaseHTTPRequestHandler):
    directory = "."

    def log_message(self, *args):
        pass

    def send_bytes(self, status, data, headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        p = self.path
        if p.startswith("/files/"):
            with open(os.path.join(self.directory, p[len("/files/"):]), "rb") as f:
                self.send_bytes(200, f.read())
        elif p == "/missing":
            self.send_bytes(404, b"no such thing\n")
        elif p == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.close_connection = True
        elif p == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            time.sleep(30)
        elif p.startswith("/redirect/"):
            n = int(p[len("/redirect/"):])
            to = "/files/data.bin" if n == 0 else "/redirect/%d" % (n - 1)
            self.send_bytes(302, b"", [("Location", to)])
        elif p == "/loop":
            self.send_bytes(302, b"", [("Location", "/loop")])
        elif p.startswith("/gzip/"):
            with open(os.path.join(self.directory, p[len("/gzip/"):]), "rb") as f:
                data = f.read()
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_bytes(200, gzip.compress(data), [("Content-Encoding", "gzip")])
            else:
                self.send_bytes(200, data)
        else:
            self.send_bytes(404, b"")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        if self.path.startswith("/upload/"):
            body = self.read_body()
            with open(os.path.join(self.directory, self.path[len("/upload/"):]), "wb") as f:
                f.write(body)
            self.send_bytes(200, b"ok\n")
        elif self.path == "/reject":
            self.send_bytes(403, b"no\n")
            self.close_connection = True
        else:
            self.send_bytes(404, b"")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def receive(listener, out):
    conn, _ = listener.accept()
    with open(out + ".part", "wb") as f:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            f.write(data)
    conn.close()
    os.rename(out + ".part", out)


def send(sock, path):
    with open(path, "rb") as f:
        sock.sendall(f.read())
    sock.close()


def unix_listener(path):
    # Listening before the name appears, so that whoever waits for the name can connect.
    s = socket.socket(socket.AF_UNIX)
    s.bind(path + ".tmp")
    s.listen(1)
    os.rename(path + ".tmp", path)
    return s


def main():
    mode = sys.argv[1]
    if mode == "http":
        Handler.directory = sys.argv[3]
        srv = Server(("127.0.0.1", 0), Handler)
        write_port(sys.argv[2], srv.server_address[1])
        srv.serve_forever()
    elif mode == "https":
        Handler.directory = sys.argv[3]
        srv = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        write_port(sys.argv[2], srv.server_address[1])
        srv.serve_forever()
    elif mode == "tcp-recv":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        write_port(sys.argv[2], s.getsockname()[1])
        receive(s, sys.argv[3])
    elif mode == "unix-recv":
        receive(unix_listener(sys.argv[2]), sys.argv[3])
    elif mode == "tcp-send":
        send(socket.create_connection(("127.0.0.1", int(sys.argv[2]))), sys.argv[3])
    elif mode == "unix-serve":
        conn, _ = unix_listener(sys.argv[2]).accept()
        send(conn, sys.argv[3])


if __name__ == "__main__":
    main()
