#include "cli/cli.h"

int main(int argc, char** argv) { return t2::cli::run_main(argc, argv); }
