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

/* Looks up the mode called name (a NULL or empty name: the default) and
 * sets *mode to its index. */
gboolean
sc_bench_adapter_find_mode (const ScBenchAdapter *adapter,
                            const char *name,
                            guint *mode)
{
  g_return_val_if_fail (adapter != NULL, FALSE);

  if (name == NULL || name[0] == '\0')
    {
      *mode = 0;
      return TRUE;
    }
  for (guint i = 0; adapter->modes != NULL && adapter->modes[i] != NULL; i++)
    if (g_str_equal (adapter->modes[i], name))
      {
        *mode = i;
        return TRUE;
      }
  return FALSE;
}

/* The mode's name, or "" for an adapter that has only one. */
const char *
sc_bench_adapter_mode_name (const ScBenchAdapter *adapter, guint mode)
{
  g_return_val_if_fail (adapter != NULL, NULL);

  return adapter->modes != NULL ? adapter->modes[mode] : "";
}
