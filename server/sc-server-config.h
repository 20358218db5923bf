/* sc-server-config.h: the server's settings, from defaults, a GKeyFile
 * and the command line, in that order of precedence (last wins). */
#pragma once

#include <glib.h>

#include "sc-accounts.h"

G_BEGIN_DECLS

typedef struct
{
  char *bind_address; /* NULL: every address, IPv6 and IPv4 */
  guint port;
  guint threads;
  guint max_clients;
  guint max_payload;
  guint pre_hello_max_payload;
  guint hello_timeout_s;
  guint idle_timeout_s; /* silence before the server pings */
  guint ping_timeout_s; /* further wait for the answer */
  gsize output_cap;     /* bytes queued for one client */
  guint max_unacked;    /* messages delivered but not yet acknowledged */
  guint shutdown_grace_ms;
  char *server_name;
  char *password;        /* NULL: no password required */
  gsize max_memory;      /* bytes held for all clients together */
  guint write_timeout_s; /* output waiting unread before a drop */
  guint fanout_rate;     /* broadcast recipients and list entries a second */
  guint frame_timeout_s; /* to complete a frame once it has started */
  guint max_pending;     /* connections that have not said hello */
  guint max_per_address; /* of those, from one address */
  /* Identity (docs/PROTOCOL.md 5.5). */
  char *accounts_path;     /* NULL: no registered nicknames */
  ScAccounts *accounts;    /* read from accounts_path */
  gboolean accounts_only;  /* only registered nicknames may be taken */
  gboolean hide_addresses; /* others' addresses are shown as "" */
  /* TLS: an implicit-TLS listener on tls_port when a certificate and its
   * key are given (PEM files). */
  char *tls_cert;
  char *tls_key;
  guint tls_port;
  gboolean no_plaintext;             /* no plain listener at all */
  gboolean allow_plaintext_password; /* accept the password in clear */

  /* Several servers as one (docs/CLUSTER.md, sc-server-config-cluster.c).
   * cluster_urls NULL: a single server, nothing of a backplane used. */
  char *cluster_urls; /* comma-separated NATS URLs */
  char *cluster_name; /* prefix of every bucket and subject */
  guint node_id;
  guint heartbeat_interval_ms;
  guint node_timeout_ms;
  guint receipt_timeout_ms;
  guint kv_replicas;
  guint id_block;
  guint delete_markers_kept_s;    /* the directory's markers of departures */
  gboolean backplane_lost_refuse; /* refuse new clients while it is lost */
} ScServerConfig;

#define SC_SERVER_CONFIG_ERROR (sc_server_config_error_quark ())

typedef enum
{
  SC_SERVER_CONFIG_ERROR_INVALID,
  SC_SERVER_CONFIG_ERROR_FILE,
} ScServerConfigError;

GQuark sc_server_config_error_quark (void);

ScServerConfig *sc_server_config_new (void);
void sc_server_config_free (ScServerConfig *config);
gboolean sc_server_config_parse_args (ScServerConfig *config,
                                      int *argc,
                                      char ***argv,
                                      gboolean *version_only,
                                      char **add_account,
                                      GError **error);
gboolean sc_server_config_load_password (ScServerConfig *config,
                                         const char *path,
                                         GError **error);
gboolean sc_server_config_load_accounts (ScServerConfig *config,
                                         const char *path,
                                         GError **error);
gboolean sc_server_config_validate (ScServerConfig *config, GError **error);
gboolean sc_server_config_load_file (ScServerConfig *config,
                                     const char *path,
                                     GError **error);

/* The [cluster] group and its options (sc-server-config-cluster.c). */
typedef struct _ScClusterArgs ScClusterArgs;

void sc_server_config_init_cluster (ScServerConfig *config);
ScClusterArgs *sc_cluster_args_new (void);
void sc_cluster_args_free (ScClusterArgs *args);
GOptionEntry *sc_cluster_args_entries (ScClusterArgs *args);
gboolean sc_cluster_args_apply (ScClusterArgs *args,
                                ScServerConfig *config,
                                GError **error);
gboolean sc_server_config_load_cluster (ScServerConfig *config,
                                        GKeyFile *file,
                                        const char *path,
                                        GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScClusterArgs, sc_cluster_args_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScServerConfig, sc_server_config_free)

G_END_DECLS
