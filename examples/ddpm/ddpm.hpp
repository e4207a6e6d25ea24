// The DDPM trainer shared by ddpm_mnist and ddpm_fashion (compiled once, see
// examples/CMakeLists.txt): each binary's main only picks the default dataset.
#pragma once
#include <string>

int run_ddpm(int argc, char** argv, const std::string& dataset);
