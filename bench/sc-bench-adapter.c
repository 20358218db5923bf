/* sc-bench-adapter.c: the table of adapters. */
#include "sc-bench-adapter.h"

static const ScBenchAdapter *const adapters[] = {
  &sc_bench_adapter_sockchat,
  &sc_bench_adapter_floor,
};

const ScBenchAdapter *
sc_bench_adapter_lookup (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (adapters); i++)
    if (g_strcmp0 (adapters[i]->name, name) == 0)
      return adapters[i];
  return NULL;
}

const char *
sc_bench_adapter_names (void)
{
  return "sockchat, floor";
}
