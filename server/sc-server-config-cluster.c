/* sc-server-config-cluster.c: the settings of several servers joined as
 * one (docs/CLUSTER.md): options, group [cluster] of the key file, and
 * their validation.  They exist whether or not this build can join a
 * cluster, so that one configuration file serves every build; a build
 * without the backplane refuses --cluster when the server starts. */
#include "config.h"

#include <glib/gi18n.h>

#include <string.h>

#include "sc-server-config.h"

#define CLUSTER_GROUP "cluster"

/* The numeric settings of group [cluster]: key, range, member. */
typedef struct
{
  const char *key;
  guint min;
  guint max;
  gsize offset;
} ClusterSetting;

#define CLUSTER_SETTING(key, min, max, member)              \
  {                                                         \
    key, min, max, G_STRUCT_OFFSET (ScServerConfig, member) \
  }

static const ClusterSetting cluster_settings[] = {
  CLUSTER_SETTING ("node-id", 1, 65535, node_id),
  CLUSTER_SETTING ("heartbeat-interval", 10, 60000, heartbeat_interval_ms),
  CLUSTER_SETTING ("node-timeout", 50, 600000, node_timeout_ms),
  CLUSTER_SETTING ("receipt-timeout", 10, 600000, receipt_timeout_ms),
  CLUSTER_SETTING ("kv-replicas", 1, 5, kv_replicas),
  CLUSTER_SETTING ("id-block", 16, 1048576, id_block),
  CLUSTER_SETTING ("delete-markers-kept", 1, 604800, delete_markers_kept_s),
};

struct _ScClusterArgs
{
  char *urls;
  char *name;
  char *lost;
  char *numbers[G_N_ELEMENTS (cluster_settings)];
  GOptionEntry entries[G_N_ELEMENTS (cluster_settings) + 4];
};

void
sc_server_config_init_cluster (ScServerConfig *config)
{
  config->cluster_urls = NULL;
  config->cluster_name = g_strdup ("sockchat");
  config->node_id = 1;
  config->heartbeat_interval_ms = 1000;
  config->node_timeout_ms = 5000;
  config->receipt_timeout_ms = 2000;
  config->kv_replicas = 3;
  config->id_block = 1024;
  config->delete_markers_kept_s = 1800;
  config->backplane_lost_refuse = FALSE;
}

static gboolean
store_number (ScServerConfig *config,
              const ClusterSetting *setting,
              const char *text,
              const char *origin,
              GError **error)
{
  char *end = NULL;
  gint64 value = g_ascii_strtoll (text, &end, 10);

  if (end == text || *end != '\0')
    {
      g_set_error (
        error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
        _ ("%s%s wants a number, not “%s”"), origin, setting->key, text);
      return FALSE;
    }
  if (value < setting->min || value > setting->max)
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR,
                   SC_SERVER_CONFIG_ERROR_INVALID,
                   _ ("%s%s must be between %lld and %lld, not %lld"), origin,
                   setting->key, (long long) setting->min,
                   (long long) setting->max, (long long) value);
      return FALSE;
    }
  *(guint *) ((guint8 *) config + setting->offset) = (guint) value;
  return TRUE;
}

static gboolean
store_lost (ScServerConfig *config,
            const char *text,
            const char *origin,
            GError **error)
{
  if (g_str_equal (text, "local") || g_str_equal (text, "refuse"))
    {
      config->backplane_lost_refuse = g_str_equal (text, "refuse");
      return TRUE;
    }
  g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
               _ ("%sbackplane-lost must be “local” or “refuse”, not “%s”"),
               origin, text);
  return FALSE;
}

/* An empty URL list means no cluster, so that a configuration file can
 * show the key without joining one. */
static void
store_urls (ScServerConfig *config, const char *text)
{
  g_free (config->cluster_urls);
  config->cluster_urls = text[0] != '\0' ? g_strdup (text) : NULL;
}

static gboolean
check_name (const char *name, const char *origin, GError **error)
{
  if (name[0] != '\0' &&
      strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen (name))
    return TRUE;
  g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
               _ ("%scluster-name must be letters, digits, “_” and “-”, not "
                  "“%s”"),
               origin, name);
  return FALSE;
}

/* Reads group [cluster]; keys are the long option names. */
gboolean
sc_server_config_load_cluster (ScServerConfig *config,
                               GKeyFile *file,
                               const char *path,
                               GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (file, CLUSTER_GROUP, NULL, NULL);
  g_autofree char *origin = g_strdup_printf ("%s: ", path);

  for (guint i = 0; keys && keys[i]; i++)
    {
      g_autofree char *value =
        g_key_file_get_string (file, CLUSTER_GROUP, keys[i], NULL);
      gboolean known = FALSE;

      if (value == NULL)
        continue;
      g_strstrip (value);
      if (g_str_equal (keys[i], "cluster"))
        {
          store_urls (config, value);
          continue;
        }
      if (g_str_equal (keys[i], "cluster-name"))
        {
          if (!check_name (value, origin, error))
            return FALSE;
          g_free (config->cluster_name);
          config->cluster_name = g_steal_pointer (&value);
          continue;
        }
      if (g_str_equal (keys[i], "backplane-lost"))
        {
          if (!store_lost (config, value, origin, error))
            return FALSE;
          continue;
        }
      for (gsize j = 0; j < G_N_ELEMENTS (cluster_settings); j++)
        if (g_str_equal (keys[i], cluster_settings[j].key))
          {
            if (!store_number (config, &cluster_settings[j], value, origin,
                               error))
              return FALSE;
            known = TRUE;
          }
      if (!known)
        {
          g_set_error (
            error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
            _ ("%s: unknown setting “%s” in group [cluster]"), path, keys[i]);
          return FALSE;
        }
    }
  return TRUE;
}

ScClusterArgs *
sc_cluster_args_new (void)
{
  ScClusterArgs *args = g_new0 (ScClusterArgs, 1);
  static const char *const help[] = {
    N_ ("This server's number in the cluster, 1 to 65535 (default 1)"),
    N_ ("Milliseconds between heartbeats to the other servers (default "
        "1000)"),
    N_ ("Milliseconds without a heartbeat before a server is taken for dead "
        "and its clients as gone (default 5000)"),
    N_ ("Milliseconds the link to the other servers may be down before "
        "messages sent through it are reported unreachable (default 2000)"),
    N_ ("Copies the NATS cluster keeps of the directory and leases, 1 to 5 "
        "(default 3)"),
    N_ ("Client ids leased from the cluster at a time (default 1024)"),
    N_ ("Seconds the directory keeps the marker a departed client leaves, "
        "before a server removes it (default 1800)"),
  };
  static const char *const arg_names[] = {
    "N", N_ ("MS"), N_ ("MS"), N_ ("MS"), "N", "N", N_ ("S"),
  };
  guint n = 0;

  G_STATIC_ASSERT (G_N_ELEMENTS (help) == G_N_ELEMENTS (cluster_settings));
  args->entries[n++] = (GOptionEntry){
    "cluster",
    0,
    0,
    G_OPTION_ARG_STRING,
    &args->urls,
    N_ ("Join the servers of a NATS cluster: its URLs, separated by commas "
        "(default: none, a single server)"),
    N_ ("URL[,URL…]")
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cluster_settings); i++)
    args->entries[n++] = (GOptionEntry){
      cluster_settings[i].key, 0,       0,           G_OPTION_ARG_STRING,
      &args->numbers[i],       help[i], arg_names[i]
    };
  args->entries[n++] = (GOptionEntry){
    "cluster-name",
    0,
    0,
    G_OPTION_ARG_STRING,
    &args->name,
    N_ ("Name of the cluster: the servers sharing it see each other's "
        "clients (default sockchat)"),
    N_ ("NAME")
  };
  args->entries[n++] = (GOptionEntry){
    "backplane-lost",
    0,
    0,
    G_OPTION_ARG_STRING,
    &args->lost,
    N_ ("While the link to the cluster is lost: “local” serves clients as a "
        "single server, “refuse” turns new clients away (default local)"),
    "local|refuse"
  };
  args->entries[n] = (GOptionEntry){ NULL };
  return args;
}

void
sc_cluster_args_free (ScClusterArgs *args)
{
  if (args == NULL)
    return;
  g_free (args->urls);
  g_free (args->name);
  g_free (args->lost);
  for (gsize i = 0; i < G_N_ELEMENTS (cluster_settings); i++)
    g_free (args->numbers[i]);
  g_free (args);
}

GOptionEntry *
sc_cluster_args_entries (ScClusterArgs *args)
{
  return args->entries;
}

/* After the configuration file: what the command line said wins. */
gboolean
sc_cluster_args_apply (ScClusterArgs *args,
                       ScServerConfig *config,
                       GError **error)
{
  if (args->urls != NULL)
    store_urls (config, args->urls);
  for (gsize i = 0; i < G_N_ELEMENTS (cluster_settings); i++)
    if (args->numbers[i] != NULL &&
        !store_number (config, &cluster_settings[i], args->numbers[i], "--",
                       error))
      return FALSE;
  if (args->name != NULL)
    {
      if (!check_name (args->name, "--", error))
        return FALSE;
      g_free (config->cluster_name);
      config->cluster_name = g_strdup (args->name);
    }
  if (args->lost != NULL && !store_lost (config, args->lost, "--", error))
    return FALSE;
  return TRUE;
}
