/* sc-bench-adapter.c: the table of adapters. */
#include "sc-bench-adapter.h"

static const ScBenchAdapter *const adapters[] = {
  &sc_bench_adapter_sockchat, &sc_bench_adapter_floor, &sc_bench_adapter_mqtt,
  &sc_bench_adapter_redis,    &sc_bench_adapter_nats,  &sc_bench_adapter_irc,
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
  return "sockchat, floor, mqtt, redis, nats, irc";
}
