/* test-faults-server-killed.c: the server killed with SIGKILL while
 * client cores are connected.
 *
 * Several ScClient instances in this process are connected to the server
 * binary.  The server is stopped with SIGSTOP, so the requests each client
 * then sends (PING and GET_TIME) can never be answered, and is killed
 * with SIGKILL.  Within one second every client must report
 * ::disconnected with SC_DISCONNECT_CONNECTION_LOST and fail its pending
 * requests with SC_ERROR_CLOSED.
 */
#include "config.h"

#include <signal.h>

#include "sc-client.h"
#include "sc-fault-util.h"
#include "sc-test-server.h"

#define N_CLIENTS 5

typedef struct
{
  ScClient *client;
  gboolean connected;
  GError *connect_error;
  gboolean disconnected;
  guint reason;
  char *detail;
  gint64 disconnected_at;
  guint n_failed;
  guint n_finished;
  GError *request_errors[2];
} Slot;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Slot *slot = data;

  slot->connected =
    sc_client_connect_finish (SC_CLIENT (source), result, &slot->connect_error);
}

static void
on_disconnected (ScClient *client,
                 guint reason,
                 const char *detail,
                 gpointer data)
{
  Slot *slot = data;

  g_assert_false (slot->disconnected);
  slot->disconnected = TRUE;
  slot->disconnected_at = g_get_monotonic_time ();
  slot->reason = reason;
  slot->detail = g_strdup (detail);
}

static void
on_pinged (GObject *source, GAsyncResult *result, gpointer data)
{
  Slot *slot = data;

  g_assert_cmpint (sc_client_ping_finish (SC_CLIENT (source), result,
                                          &slot->request_errors[0]),
                   ==, -1);
  slot->n_finished++;
}

static void
on_time (GObject *source, GAsyncResult *result, gpointer data)
{
  Slot *slot = data;
  g_autoptr (GDateTime) reply = sc_client_get_time_finish (
    SC_CLIENT (source), result, NULL, &slot->request_errors[1]);

  g_assert_null (reply);
  slot->n_finished++;
}

typedef gboolean (*SlotsDone) (Slot *slots);

static gboolean
all_connected (Slot *slots)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_assert_no_error (slots[i].connect_error);
      if (!slots[i].connected)
        return FALSE;
    }
  return TRUE;
}

static gboolean
all_finished (Slot *slots)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    if (!slots[i].disconnected || slots[i].n_finished < 2)
      return FALSE;
  return TRUE;
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default main context until @done or @timeout_ms.  Every
 * change @done looks at comes from a callback dispatched there, so a
 * blocking iteration wakes for each. */
static gboolean
iterate_until (SlotsDone done, Slot *slots, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add (timeout_ms, on_deadline, &timed_out);

  while (!done (slots) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout);
  return done (slots);
}

static void
test_server_killed (void)
{
  ScFaultServerOptions options = { 0 };
  g_autoptr (ScServerChild) server = sc_fault_server_start (&options);
  Slot slots[N_CLIENTS] = { { 0 } };
  gint64 killed_at;

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *nickname = g_strdup_printf ("core-%u", i);

      slots[i].client = sc_client_new ("test-faults");
      g_signal_connect (slots[i].client, "disconnected",
                        G_CALLBACK (on_disconnected), &slots[i]);
      sc_client_connect_async (slots[i].client, "127.0.0.1",
                               sc_server_child_get_port (server), nickname,
                               NULL, on_connected, &slots[i]);
    }
  g_assert_true (iterate_until (all_connected, slots, 10000));

  /* A stopped server reads nothing: these requests stay pending. */
  sc_fault_proc_stop (sc_server_child_get_pid (server));
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      sc_client_ping_async (slots[i].client, NULL, on_pinged, &slots[i]);
      sc_client_get_time_async (slots[i].client, NULL, on_time, &slots[i]);
    }
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_assert_false (slots[i].disconnected);
      g_assert_cmpuint (slots[i].n_finished, ==, 0);
    }

  g_assert_true (sc_server_child_signal (server, SIGKILL));
  killed_at = g_get_monotonic_time ();
  g_assert_true (iterate_until (all_finished, slots, 3000));
  /* Its sockets are closed before the process is gone. */
  g_assert_true (sc_server_child_wait_reaped (server, 5000));

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      gint64 after_ms = (slots[i].disconnected_at - killed_at) / 1000;

      g_test_message ("client %u: disconnected after %" G_GINT64_FORMAT
                      " ms, reason %u (%s)",
                      i, after_ms, slots[i].reason, slots[i].detail);
      g_assert_cmpint (after_ms, <, 1000);
      g_assert_cmpuint (slots[i].reason, ==, SC_DISCONNECT_CONNECTION_LOST);
      g_assert_cmpint (sc_client_get_state (slots[i].client), ==,
                       SC_CLIENT_STATE_DISCONNECTED);
      for (guint j = 0; j < G_N_ELEMENTS (slots[i].request_errors); j++)
        {
          g_assert_error (slots[i].request_errors[j], SC_ERROR,
                          SC_ERROR_CLOSED);
          g_clear_error (&slots[i].request_errors[j]);
        }
      g_clear_object (&slots[i].client);
      g_free (slots[i].detail);
    }
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/faults/server/killed", test_server_killed);
  return g_test_run ();
}
