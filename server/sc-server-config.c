/* sc-server-config.c: option parsing and validation. */
#include "config.h"

#include <glib/gi18n.h>

#include <string.h>

#include "sc-protocol.h"
#include "sc-tls.h"
#include "sc-server-config.h"
#include "sc-server-private.h"

GQuark
sc_server_config_error_quark (void)
{
  return g_quark_from_static_string ("sc-server-config-error-quark");
}

/* Options the user may set, their key in the configuration file, and the
 * range they must fall in.  Unset command-line values stay at -1. */
typedef struct
{
  const char *key;
  gint64 min;
  gint64 max;
  gsize offset;
  gboolean is_size;
} NumericSetting;

#define SETTING(key, min, max, member, is_size)                      \
  {                                                                  \
    key, min, max, G_STRUCT_OFFSET (ScServerConfig, member), is_size \
  }

static const NumericSetting numeric_settings[] = {
  SETTING ("port", 0, 65535, port, FALSE),
  SETTING ("threads", 1, 256, threads, FALSE),
  SETTING ("max-clients", 1, 19900, max_clients, FALSE),
  SETTING ("max-payload", 1024, SC_MAX_PAYLOAD_LIMIT, max_payload, FALSE),
  SETTING ("idle-timeout", 1, 86400, idle_timeout_s, FALSE),
  SETTING ("ping-timeout", 1, 3600, ping_timeout_s, FALSE),
  SETTING ("hello-timeout", 1, 3600, hello_timeout_s, FALSE),
  SETTING ("output-cap", 65536, G_GINT64_CONSTANT (1) << 32, output_cap, TRUE),
  SETTING ("max-unacked", 1, 65536, max_unacked, FALSE),
  SETTING ("max-memory", 1 << 20, G_MAXINT64, max_memory, TRUE),
  SETTING ("write-timeout", 1, 3600, write_timeout_s, FALSE),
  SETTING ("fanout-rate", 1, 100000000, fanout_rate, FALSE),
  SETTING ("frame-timeout", 1, 3600, frame_timeout_s, FALSE),
  SETTING ("max-pending", 1, 65536, max_pending, FALSE),
  SETTING ("max-per-address", 1, 65536, max_per_address, FALSE),
  SETTING ("tls-port", 0, 65535, tls_port, FALSE),
};

ScServerConfig *
sc_server_config_new (void)
{
  ScServerConfig *config = g_new0 (ScServerConfig, 1);

  config->port = SC_DEFAULT_PORT;
  config->threads = MAX (1, g_get_num_processors ());
  config->max_clients = 1024;
  config->max_payload = SC_MAX_PAYLOAD_DEFAULT;
  config->pre_hello_max_payload = 4096;
  config->hello_timeout_s = 10;
  config->idle_timeout_s = 60;
  config->ping_timeout_s = 20;
  config->output_cap = 1024 * 1024;
  config->max_unacked = 4096;
  config->max_memory = sc_server_default_max_memory ();
  config->write_timeout_s = 30;
  config->fanout_rate = 20000;
  config->shutdown_grace_ms = 2000;
  config->server_name = g_strdup (g_get_host_name ());
  config->frame_timeout_s = 30;
  config->max_pending = 1024;
  config->max_per_address = 256;
  config->tls_port = SC_TLS_DEFAULT_PORT;
  sc_server_config_init_cluster (config);
  return config;
}

void
sc_server_config_free (ScServerConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->bind_address);
  g_free (config->server_name);
  g_free (config->tls_cert);
  g_free (config->tls_key);
  g_free (config->cluster_urls);
  g_free (config->cluster_name);
  if (config->password)
    memset (config->password, 0, strlen (config->password));
  g_free (config->password);
  g_free (config->accounts_path);
  sc_accounts_unref (config->accounts);
  g_free (config);
}

static gboolean
store_setting (ScServerConfig *config,
               const NumericSetting *setting,
               gint64 value,
               const char *origin,
               GError **error)
{
  guint8 *base = (guint8 *) config;

  if (value < setting->min || value > setting->max)
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR,
                   SC_SERVER_CONFIG_ERROR_INVALID,
                   /* Translators: "--port must be between 0 and 65535,
                    * not 70000", or the same after a file name. */
                   _ ("%s%s must be between %lld and %lld, not %lld"), origin,
                   setting->key, (long long) setting->min,
                   (long long) setting->max, (long long) value);
      return FALSE;
    }
  if (setting->is_size)
    *(gsize *) (base + setting->offset) = (gsize) value;
  else
    *(guint *) (base + setting->offset) = (guint) value;
  return TRUE;
}

static const NumericSetting *
find_setting (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (numeric_settings); i++)
    if (g_str_equal (numeric_settings[i].key, key))
      return &numeric_settings[i];
  return NULL;
}

/* The shared secret is the first line of @path; clients send it in
 * HELLO.  An empty secret would let everyone in, so it is refused. */
gboolean
sc_server_config_load_password (ScServerConfig *config,
                                const char *path,
                                GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
                   _ ("cannot read password file %s: %s"), path,
                   local_error->message);
      return FALSE;
    }
  contents[strcspn (contents, "\r\n")] = '\0';
  if (contents[0] == '\0' || !g_utf8_validate (contents, -1, NULL))
    {
      g_set_error (
        error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
        _ ("password file %s must start with a non-empty UTF-8 line"), path);
      return FALSE;
    }
  g_free (config->password);
  config->password = g_steal_pointer (&contents);
  return TRUE;
}

/* Registered nicknames (sc-accounts.h), read now so that a bad file
 * stops the server before it listens. */
gboolean
sc_server_config_load_accounts (ScServerConfig *config,
                                const char *path,
                                GError **error)
{
  ScAccounts *accounts = sc_accounts_load (path, error);

  if (accounts == NULL)
    return FALSE;
  sc_accounts_unref (config->accounts);
  config->accounts = accounts;
  g_free (config->accounts_path);
  config->accounts_path = g_strdup (path);
  return TRUE;
}

/* The keys of the file that are switches: boolean, and off by default. */
static gboolean *
find_switch (ScServerConfig *config, const char *key)
{
  if (g_str_equal (key, "accounts-only"))
    return &config->accounts_only;
  if (g_str_equal (key, "hide-addresses"))
    return &config->hide_addresses;
  return NULL;
}

/* Settings of the file that are neither numbers nor names: files and
 * switches.  Returns FALSE with @error unset when @key is none of them. */
static gboolean
load_other_key (ScServerConfig *config,
                GKeyFile *file,
                const char *path,
                const char *key,
                GError **error)
{
  g_autofree char *value = g_key_file_get_string (file, "server", key, NULL);
  gboolean *flag = find_switch (config, key);
  g_autoptr (GError) local_error = NULL;

  if (g_str_equal (key, "password-file"))
    return sc_server_config_load_password (config, value, error);
  if (g_str_equal (key, "accounts-file"))
    return sc_server_config_load_accounts (config, value, error);
  if (flag == NULL)
    return FALSE;
  *flag = g_key_file_get_boolean (file, "server", key, &local_error);
  if (local_error != NULL)
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR,
                   SC_SERVER_CONFIG_ERROR_INVALID, "%s: %s", path,
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* Reads group [server] of a GKeyFile; keys are the long option names. */
gboolean
sc_server_config_load_file (ScServerConfig *config,
                            const char *path,
                            GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_auto (GStrv) keys = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
                   _ ("cannot read configuration %s: %s"), path,
                   local_error->message);
      return FALSE;
    }
  keys = g_key_file_get_keys (file, "server", NULL, NULL);
  for (guint i = 0; keys && keys[i]; i++)
    {
      const NumericSetting *setting = find_setting (keys[i]);
      g_autofree char *origin = g_strdup_printf ("%s: ", path);
      gint64 value;

      if (g_str_equal (keys[i], "password-file") ||
          g_str_equal (keys[i], "accounts-file") ||
          find_switch (config, keys[i]) != NULL)
        {
          if (!load_other_key (config, file, path, keys[i], error))
            return FALSE;
          continue;
        }
      if (g_str_equal (keys[i], "no-plaintext") ||
          g_str_equal (keys[i], "allow-plaintext-password"))
        {
          gboolean *target = g_str_equal (keys[i], "no-plaintext")
                               ? &config->no_plaintext
                               : &config->allow_plaintext_password;

          *target =
            g_key_file_get_boolean (file, "server", keys[i], &local_error);
          if (local_error != NULL)
            {
              g_set_error (error, SC_SERVER_CONFIG_ERROR,
                           SC_SERVER_CONFIG_ERROR_INVALID, "%s: %s", path,
                           local_error->message);
              return FALSE;
            }
          continue;
        }
      if (g_str_equal (keys[i], "bind") || g_str_equal (keys[i], "name") ||
          g_str_equal (keys[i], "tls-cert") || g_str_equal (keys[i], "tls-key"))
        {
          char **target = g_str_equal (keys[i], "bind") ? &config->bind_address
                          : g_str_equal (keys[i], "name") ? &config->server_name
                          : g_str_equal (keys[i], "tls-cert")
                            ? &config->tls_cert
                            : &config->tls_key;
          g_free (*target);
          *target = g_key_file_get_string (file, "server", keys[i], NULL);
          continue;
        }
      if (setting == NULL)
        {
          g_set_error (
            error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
            _ ("%s: unknown setting “%s” in group [server]"), path, keys[i]);
          return FALSE;
        }
      value = g_key_file_get_int64 (file, "server", keys[i], &local_error);
      if (local_error != NULL)
        {
          g_set_error (error, SC_SERVER_CONFIG_ERROR,
                       SC_SERVER_CONFIG_ERROR_INVALID, "%s: %s", path,
                       local_error->message);
          return FALSE;
        }
      if (!store_setting (config, setting, value, origin, error))
        return FALSE;
    }
  return sc_server_config_load_cluster (config, file, path, error);
}

/* For --add-account: the accounts file named on the command line, else
 * in the configuration file, is not read, only named. */
static gboolean
set_accounts_path_only (ScServerConfig *config,
                        const char *config_path,
                        char **accounts_path,
                        GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;

  if (*accounts_path == NULL && config_path != NULL)
    {
      if (!g_key_file_load_from_file (file, config_path, G_KEY_FILE_NONE,
                                      &local_error))
        {
          g_set_error (error, SC_SERVER_CONFIG_ERROR,
                       SC_SERVER_CONFIG_ERROR_FILE,
                       _ ("cannot read configuration %s: %s"), config_path,
                       local_error->message);
          return FALSE;
        }
      *accounts_path =
        g_key_file_get_string (file, "server", "accounts-file", NULL);
    }
  g_free (config->accounts_path);
  config->accounts_path = g_steal_pointer (accounts_path);
  return TRUE;
}

/* Parses the command line.  A --config file is applied first, then every
 * option given on the command line, so the command line wins. */
gboolean
sc_server_config_parse_args (ScServerConfig *config,
                             int *argc,
                             char ***argv,
                             gboolean *version_only,
                             char **add_account,
                             GError **error)
{
  gint64 values[G_N_ELEMENTS (numeric_settings)];
  g_autofree char *bind = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *password_path = NULL;
  g_autofree char *accounts_path = NULL;
  gboolean accounts_only = FALSE, hide_addresses = FALSE;
  g_autofree char *port = NULL, *threads = NULL, *max_clients = NULL,
                  *max_payload = NULL, *idle = NULL, *ping = NULL,
                  *hello = NULL, *output_cap = NULL, *max_unacked = NULL,
                  *max_memory = NULL, *write_timeout = NULL,
                  *fanout_rate = NULL, *frame = NULL, *max_pending = NULL,
                  *per_address = NULL, *tls_port = NULL;
  g_autofree char *tls_cert = NULL, *tls_key = NULL;
  gboolean no_plaintext = FALSE, allow_plaintext_password = FALSE;
  char **texts[] = { &port,        &threads,     &max_clients,   &max_payload,
                     &idle,        &ping,        &hello,         &output_cap,
                     &max_unacked, &max_memory,  &write_timeout, &fanout_rate,
                     &frame,       &max_pending, &per_address,   &tls_port };
  g_autofree char *default_memory =
    g_strdup_printf ("%" G_GSIZE_FORMAT, sc_server_default_max_memory ());
  /* Translators: %s is a number of bytes. */
  g_autofree char *memory_help = g_strdup_printf (
    _ ("Bytes the server may hold for all clients together: queues, read "
       "buffers, unacknowledged messages (default: a quarter of this "
       "machine's memory, %s)"),
    default_memory);
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_STRING, &port,
      N_ ("TCP port to listen on (default 5330; 0 picks a free one)"),
      N_ ("PORT") },
    { "bind", 'b', 0, G_OPTION_ARG_STRING, &bind,
      N_ ("Address to listen on (default: all, IPv6 and IPv4)"),
      N_ ("ADDRESS") },
    { "threads", 't', 0, G_OPTION_ARG_STRING, &threads,
      N_ ("Worker threads (default: number of CPUs)"), "N" },
    { "max-clients", 0, 0, G_OPTION_ARG_STRING, &max_clients,
      N_ ("Most clients that have said hello at once (default 1024)"), "N" },
    { "max-payload", 0, 0, G_OPTION_ARG_STRING, &max_payload,
      N_ ("Largest frame payload in bytes (default 65536)"), N_ ("BYTES") },
    { "idle-timeout", 0, 0, G_OPTION_ARG_STRING, &idle,
      N_ ("Seconds of silence before a client is pinged (default 60)"),
      N_ ("SECONDS") },
    { "ping-timeout", 0, 0, G_OPTION_ARG_STRING, &ping,
      N_ ("Seconds to wait for a ping's answer (default 20)"), N_ ("SECONDS") },
    { "hello-timeout", 0, 0, G_OPTION_ARG_STRING, &hello,
      N_ ("Seconds a new client has to say hello (default 10)"),
      N_ ("SECONDS") },
    { "output-cap", 0, 0, G_OPTION_ARG_STRING, &output_cap,
      N_ ("Bytes of output held for one client: at half, messages to it are "
          "refused; past it, it is dropped (default 1048576)"),
      N_ ("BYTES") },
    { "max-unacked", 0, 0, G_OPTION_ARG_STRING, &max_unacked,
      N_ ("Messages delivered to one client and not yet acknowledged before "
          "more to it are refused (default 4096)"),
      "N" },
    { "max-memory", 0, 0, G_OPTION_ARG_STRING, &max_memory, memory_help,
      N_ ("BYTES") },
    { "write-timeout", 0, 0, G_OPTION_ARG_STRING, &write_timeout,
      N_ ("Seconds a client may leave its output unread before it is "
          "dropped (default 30)"),
      N_ ("SECONDS") },
    { "fanout-rate", 0, 0, G_OPTION_ARG_STRING, &fanout_rate,
      N_ ("Broadcast recipients plus list entries one client may ask for "
          "per second (default 20000)"),
      "N" },
    { "frame-timeout", 0, 0, G_OPTION_ARG_STRING, &frame,
      N_ ("Seconds a client has to complete a frame it has started "
          "(default 30)"),
      N_ ("SECONDS") },
    { "max-pending", 0, 0, G_OPTION_ARG_STRING, &max_pending,
      N_ ("Most connections waiting for their hello; past it the oldest is "
          "closed (default 1024)"),
      "N" },
    { "max-per-address", 0, 0, G_OPTION_ARG_STRING, &per_address,
      N_ ("Most connections waiting for their hello from one address; past "
          "it its oldest is closed (default 256)"),
      "N" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert,
      N_ ("Certificate chain (PEM) for the TLS listener; with --tls-key it "
          "is opened next to the plain one"),
      N_ ("FILE") },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
      N_ ("Private key (PEM) of the --tls-cert certificate"), N_ ("FILE") },
    { "tls-port", 0, 0, G_OPTION_ARG_STRING, &tls_port,
      N_ ("TCP port of the TLS listener (default 5331; 0 picks a free one)"),
      N_ ("PORT") },
    { "no-plaintext", 0, 0, G_OPTION_ARG_NONE, &no_plaintext,
      N_ ("Open no plain listener: TLS only"), NULL },
    { "allow-plaintext-password", 0, 0, G_OPTION_ARG_NONE,
      &allow_plaintext_password,
      N_ ("Accept the password over a plain connection too (by default it "
          "is refused with ENCRYPTION_REQUIRED)"),
      NULL },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_path,
      N_ ("Require the password on the first line of FILE in every hello"),
      N_ ("FILE") },
    { "accounts-file", 0, 0, G_OPTION_ARG_FILENAME, &accounts_path,
      N_ ("Registered nicknames: lines “nickname:HASH”; a registered "
          "nickname is taken only with its password"),
      N_ ("FILE") },
    { "accounts-only", 0, 0, G_OPTION_ARG_NONE, &accounts_only,
      N_ ("Accept only registered nicknames"), NULL },
    { "hide-addresses", 0, 0, G_OPTION_ARG_NONE, &hide_addresses,
      N_ ("Show clients no one else's address and port"), NULL },
    { "add-account", 0, 0, G_OPTION_ARG_STRING, add_account,
      N_ ("Register NAME in the --accounts-file with a password read from "
          "the terminal (or standard input), then exit"),
      N_ ("NAME") },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      N_ ("Read settings from a key file (group [server])"), N_ ("FILE") },
    { "version", 'V', 0, G_OPTION_ARG_NONE, version_only,
      N_ ("Print the version and exit"), NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (ScClusterArgs) cluster_args = sc_cluster_args_new ();

  G_STATIC_ASSERT (G_N_ELEMENTS (texts) == G_N_ELEMENTS (numeric_settings));

  g_option_context_set_summary (context,
                                _ ("The SockChat server: relays messages "
                                   "between clients over TCP."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (
    context, sc_cluster_args_entries (cluster_args), GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*version_only)
    return TRUE;
  if (*argc > 1)
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR,
                   SC_SERVER_CONFIG_ERROR_INVALID,
                   _ ("unexpected argument “%s”"), (*argv)[1]);
      return FALSE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      char *end = NULL;

      values[i] = -1;
      if (*texts[i] == NULL)
        continue;
      values[i] = g_ascii_strtoll (*texts[i], &end, 10);
      if (end == *texts[i] || *end != '\0')
        {
          g_set_error (error, SC_SERVER_CONFIG_ERROR,
                       SC_SERVER_CONFIG_ERROR_INVALID,
                       _ ("--%s wants a number, not “%s”"),
                       numeric_settings[i].key, *texts[i]);
          return FALSE;
        }
    }
  /* --add-account only writes the accounts file, which may not exist
   * yet: of the configuration it takes that file's name alone. */
  if (*add_account != NULL)
    return set_accounts_path_only (config, config_path, &accounts_path, error);
  if (config_path && !sc_server_config_load_file (config, config_path, error))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    if (*texts[i] != NULL &&
        !store_setting (config, &numeric_settings[i], values[i], "--", error))
      return FALSE;
  if (!sc_cluster_args_apply (cluster_args, config, error))
    return FALSE;
  if (password_path &&
      !sc_server_config_load_password (config, password_path, error))
    return FALSE;
  if (accounts_path &&
      !sc_server_config_load_accounts (config, accounts_path, error))
    return FALSE;
  config->accounts_only = config->accounts_only || accounts_only;
  config->hide_addresses = config->hide_addresses || hide_addresses;
  if (config->accounts_only && config->accounts_path == NULL)
    {
      g_set_error_literal (error, SC_SERVER_CONFIG_ERROR,
                           SC_SERVER_CONFIG_ERROR_INVALID,
                           _ ("--accounts-only needs an --accounts-file"));
      return FALSE;
    }
  if (bind)
    {
      g_free (config->bind_address);
      config->bind_address = g_steal_pointer (&bind);
    }
  if (tls_cert)
    {
      g_free (config->tls_cert);
      config->tls_cert = g_steal_pointer (&tls_cert);
    }
  if (tls_key)
    {
      g_free (config->tls_key);
      config->tls_key = g_steal_pointer (&tls_key);
    }
  config->no_plaintext |= no_plaintext;
  config->allow_plaintext_password |= allow_plaintext_password;
  return sc_server_config_validate (config, error);
}

/* The settings that only make sense together. */
gboolean
sc_server_config_validate (ScServerConfig *config, GError **error)
{
  if ((config->tls_cert == NULL) != (config->tls_key == NULL))
    {
      g_set_error_literal (error, SC_SERVER_CONFIG_ERROR,
                           SC_SERVER_CONFIG_ERROR_INVALID,
                           _ ("--tls-cert and --tls-key go together"));
      return FALSE;
    }
  if (config->no_plaintext && config->tls_cert == NULL)
    {
      g_set_error_literal (
        error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
        _ ("--no-plaintext needs a TLS listener (--tls-cert and --tls-key)"));
      return FALSE;
    }
  return TRUE;
}
