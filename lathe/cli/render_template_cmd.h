// `lathe render-template TEMPLATE_FILE CONTEXT_JSON [--now ISO8601]`: renders a chat template.
#pragma once

namespace lathe::cli {

// argv[0] is "render-template". Prints the rendering exactly; errors go to stderr, non-zero.
int render_template_command(int argc, char** argv);

}  // namespace lathe::cli
