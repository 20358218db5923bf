/* sc-test-server.h: an in-process server on 127.0.0.1 with an
 * OS-chosen port, as a g_test_add() fixture, and small helpers the server
 * tests share. */
#pragma once

#include <glib.h>

#include "sc-server.h"

G_BEGIN_DECLS

/* Settings a test wants changed from the defaults; 0 keeps the default.
 * Pass a pointer to one as the test data of g_test_add(). */
typedef struct
{
  guint max_clients;
  guint max_payload;
  guint hello_timeout_s;
  guint idle_timeout_s;
  guint ping_timeout_s;
  gsize output_cap;
  guint max_unacked;
  const char *password;
  guint frame_timeout_s;
  guint max_pending;
  guint max_per_address;
} ScTestServerOptions;

typedef struct
{
  ScServerConfig *config;
  ScServer *server;
  guint16 port;
} ScTestServer;

void sc_test_init (int *argc, char ***argv);
guint sc_test_threads (void);
void sc_test_server_setup (ScTestServer *fixture, gconstpointer data);
void sc_test_server_teardown (ScTestServer *fixture, gconstpointer data);
void sc_test_server_wait_n_clients (ScTestServer *fixture,
                                    guint n_clients,
                                    guint timeout_ms);
gsize sc_test_vm_rss (void);
char *sc_test_text (gsize length, char fill);

G_END_DECLS
