// Noticing that an HTTP client went away while its request is being answered, so that its
// generation can stop (cpp-httplib only reports it on the next write).
#pragma once

namespace httplib {
struct Request;
}

namespace lathe::server {

// The socket of the connection `req` arrived on (matched by its local and remote ports), or
// -1. Valid while the request's handler runs.
int connection_fd(const httplib::Request& req);

// True when the peer has closed the connection or it failed (a read would see end of file or an
// error); never blocks, never consumes data.
bool peer_closed(int fd);

}  // namespace lathe::server
