// The Jinja parser: tokens to a syntax tree, with jinja2's grammar and operator precedence.
#pragma once

#include <string>

#include "lathe/text/jinja/ast.h"

namespace lathe::jinja {

// Parses template source; throws lathe::Error "[jinja] syntax error at line L, column C: ...".
Template parse_template(const std::string& source);

}  // namespace lathe::jinja
