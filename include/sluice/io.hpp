// sluice/io.hpp: the I/O layer in one include: streams over real resources.
//
// file_reader and file_writer (file.hpp), copy_file (copy_file.hpp), and stdin, stdout and
// stderr (stdio.hpp). Sockets and servers are the net layer (<sluice/net.hpp>).
#pragma once

#include "sluice/core.hpp"
#include "sluice/io/copy_file.hpp"
#include "sluice/io/file.hpp"
#include "sluice/io/stdio.hpp"
#include "sluice/io/temporary_files.hpp"
