// Compiles against the installed umbrella header and checks one result.
#include <lathe/lathe.h>

int main() {
  lathe::Array a = lathe::ones({3}, lathe::float32);
  lathe::Array b = a * 2.0f + 1.0f;
  lathe::eval(b);
  return b.to_vector<float>()[2] == 3.0f ? 0 : 1;
}
