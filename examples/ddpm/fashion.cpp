#include "ddpm.hpp"

int main(int argc, char** argv) { return run_ddpm(argc, argv, "fashion"); }
