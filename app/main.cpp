#include "app/run.hpp"

int main(int argc, char** argv) {
    return tcpretry::app::run(argc, argv);
}
