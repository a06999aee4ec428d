/* worker.c - placeholder; the worker lands with issue 2. */
#include "profd/worker.h"
