/* sc-server-private.h: what the server's workers and connections share. */
#pragma once

#include <gnutls/gnutls.h>

#include "sc-accounts.h"
#include "sc-auth-failures.h"
#include "sc-password-checker.h"
#include "sc-backplane.h"
#include "sc-pending-table.h"
#include "sc-registry.h"
#include "sc-server.h"
#include "sc-work-item.h"

G_BEGIN_DECLS

typedef struct _ScWorker ScWorker;

struct _ScServer
{
  ScServerConfig *config;
  ScRegistry *registry;
  ScBackplane *backplane; /* NULL: a single server (sc-backplane.h) */
  GTimeZone *local_zone;  /* read once: looking it up stats /etc/localtime */
  ScAuthFailures *auth_failures;
  ScPasswordChecker *password_checker; /* with registered nicknames */
  GMutex accounts_lock; /* config->accounts, swapped by a reload */
  ScWorker **workers;
  guint n_workers;

  int listen_fd;
  guint16 port;
  GThread *accept_thread;
  GMainContext *accept_context;
  GMainLoop *accept_loop;
  GSource *accept_source;
  GSource *backoff_source;

  /* The TLS listener, when a certificate is configured: its sessions
   * share these credentials and priorities (read-only once started). */
  int tls_listen_fd;
  guint16 tls_port;
  GSource *tls_accept_source;
  gnutls_certificate_credentials_t tls_credentials;
  gnutls_priority_t tls_priority;
  guint backoff_ms;

  gint n_clients;        /* atomic; every open connection */
  gint stopping;         /* atomic */
  gboolean log_requests; /* debug output on: log every request */

  /* Client ids: the accept thread takes them, in increasing order, from
   * 1 to 2^32 - 1 and round again, skipping 0 and ids still in use. */
  GMutex ids_lock;
  GHashTable *ids_in_use; /* id (as a pointer) set */
  guint32 next_client_id;

  ScPendingTable *pending; /* connections waiting for their hello */
  gint n_ready;            /* atomic; clients that said hello */

  /* The memory budget (sc-server-memory.c). */
  gssize memory_held; /* atomic: bytes charged outside the workers */
  gint over_budget;   /* atomic: the total was over the limit */
  gint relief_wanted; /* atomic: over the limit since the last relief */
  gint64 relief_at;   /* under the relief lock */
  gsize memory_peak;  /* atomic: highest total since the last trim */
};

ScAccounts *sc_server_dup_accounts (ScServer *server);
void sc_server_release_client_id (ScServer *server, guint32 id);
void sc_server_set_next_client_id (ScServer *server, guint32 id);
gboolean sc_server_take_client_slot (ScServer *server);
void sc_server_release_client_slot (ScServer *server);
void sc_server_post (ScServer *server, guint worker_index, ScWorkItem *item);
gnutls_session_t sc_server_new_tls_session (ScServer *server, int fd);

gsize sc_server_default_max_memory (void);
void sc_server_charge_memory (ScServer *server, gssize delta);
void sc_server_update_budget (ScServer *server);
gboolean sc_server_memory_exceeded (ScServer *server);
void sc_server_relieve_memory (ScServer *server);
gboolean sc_server_memory_released (ScServer *server);

G_END_DECLS
