/* client-harness.h: the harness of the client core tests, ScClient
 * against an in-process server on 127.0.0.1 and, where the server must
 * misbehave, a scripted fake server on a raw socket.  Each
 * test-client-*.c file holds the tests of one theme and its own main();
 * this is what they share: the waiting helpers, the fixture that runs the
 * server under test, Peer (a client with every signal recorded) and the
 * fake server.
 *
 * Every wait goes through wait_until(), which iterates the main context
 * without blocking and fails the test after a deadline, so a lost reply
 * or signal shows up as a failed assertion naming what was awaited, not
 * as a hung test.  The tests include sc-client-private.h to look at the
 * client's socket (for its local port) and its hand-over queue (to know
 * that events are waiting); everything else goes through the public API.
 */
#pragma once

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client-private.h"
#include "sc-server.h"
#include "sc-socket.h"
#include "sc-test-server.h"

G_BEGIN_DECLS

/* Sanitizer builds run the suite with LSAN_OPTIONS=fast_unwind_on_malloc=0,
 * which makes every allocation many times slower, and ThreadSanitizer
 * instruments every memory access (a send took 116 ms there once, on a
 * loaded machine, against the 50 ms bound); deadlines stretch to match,
 * so that they still catch a hang and not mere slowness: 4 keeps the
 * send bound (200 ms) under the 500 ms send timeout. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOWDOWN 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SLOWDOWN 4
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

#define WAIT_TIMEOUT_MS (5000 * SLOWDOWN)

guint call_time_slowdown (void);
/* Connecting may first ask a resolver, which retries for ten seconds or
 * more before it gives up on an unreachable name server. */
#define CONNECT_TIMEOUT_MS (30000 * SLOWDOWN)
#define FLOOD_TIMEOUT_MS   (20000 * SLOWDOWN)

/* ------------------------------------------------------------------ */
/* Waiting */

/* A second main context that a test gave one of its clients; while set,
 * it is iterated together with the default one. */
extern GMainContext *other_context;

gint64 deadline_after (guint timeout_ms);

/* Dispatches whatever is ready; when nothing was, blocks in the default
 * context until something is, or for at most a millisecond, so the
 * caller checks its deadline (and a second context) that often.  No
 * sleep: an event on the default context ends the wait at once. */
void iterate (void);

#define wait_until_ms(condition, timeout_ms)                                  \
  G_STMT_START                                                                \
  {                                                                           \
    gint64 wait_deadline_ = deadline_after (timeout_ms);                      \
                                                                              \
    while (!(condition))                                                      \
      {                                                                       \
        if (g_get_monotonic_time () > wait_deadline_)                         \
          {                                                                   \
            g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, \
                                 "timed out after " #timeout_ms               \
                                 " ms waiting for " #condition);              \
            break;                                                            \
          }                                                                   \
        iterate ();                                                           \
      }                                                                       \
  }                                                                           \
  G_STMT_END

#define wait_until(condition) wait_until_ms (condition, WAIT_TIMEOUT_MS)

/* Lets the loop run for @ms whatever happens, to give a signal that
 * must not come the chance to come. */
void iterate_for (guint ms);

/* Runs what is already due, so that nothing a finished test started
 * (a GTask completion, say) still holds a client. */
void drain (void);

void store_result (GObject *source, GAsyncResult *result, gpointer data);

/* ------------------------------------------------------------------ */
/* Logging and the server under test */

/* What a test wants changed from the server defaults; 0 keeps them. */

typedef struct
{
  guint max_clients;
  guint max_payload;
  /* Registered nicknames, "nickname:password"; NULL-terminated. */
  const char *const *accounts;
} ServerOptions;

typedef struct
{
  ScServerConfig *config;
  ScServer *server;
  guint16 port;
} Fixture;

void fixture_setup (Fixture *fixture, gconstpointer data);

void fixture_teardown (Fixture *fixture, gconstpointer data);

#define add_server_test(path, options, func) \
  g_test_add (path, Fixture, options, fixture_setup, func, fixture_teardown)

/* ------------------------------------------------------------------ */
/* A connected client and everything it was told */

typedef struct
{
  guint64 message_id;
  gint64 time_ms;
  gboolean broadcast;
  ScPeer *sender;
  char *text;
} Received;

typedef struct
{
  guint64 message_id;
  guint recipient_id;
  guint status;
} Receipt;

typedef struct
{
  ScClient *client;
  GMainContext *context; /* NULL: the default one */
  GArray *received;      /* Received */
  GArray *receipts;      /* Receipt */
  GPtrArray *joined;     /* ScPeer */
  GArray *left;          /* guint32 */
  GPtrArray *left_reasons;
  GArray *renamed; /* guint32 */
  GPtrArray *renamed_to;
  GString *log; /* "server-shutdown;disconnected;" and so on */
  guint n_disconnected;
  guint disconnect_reason;
  char *disconnect_detail;
} Peer;

/* A client owned by @context (NULL: the default context), with every
 * signal recorded, not yet connected. */
Peer *peer_new_in (GMainContext *context);

/* Connects @peer and returns the error, or NULL. */
GError *peer_try_connect (Peer *peer,
                          const char *host,
                          guint16 port,
                          const char *nickname);

void peer_connect (Peer *peer, guint16 port, const char *nickname);

Peer *peer_new_connected (guint16 port, const char *nickname);

guint32 peer_id (Peer *peer);

/* The client's TCP source port, which the server reports to others. */
guint16 peer_local_port (Peer *peer);

/* Drops the client and checks that nothing else still holds it: no
 * source, no task, no reference cycle. */
void peer_free (Peer *peer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

Received *peer_received (Peer *peer, guint i);

Receipt *peer_receipt (Peer *peer, guint i);

/* A request and its answer: every request sent before it on the same
 * connection has been answered, and every indication the server queued
 * for this client before the ping has been delivered. */
void peer_sync (Peer *peer);

guint64 peer_send (Peer *peer, guint32 recipient_id, const char *text);

gint64 now_ms (void);

/* ------------------------------------------------------------------ */
/* A fake server: a raw listening socket that greets, accepts the HELLO
 * and then does only what the test tells it to. */

typedef struct
{
  int listen_fd;
  int fd;
  guint16 port;
  guint32 client_id;
  gboolean early_joined; /* a CLIENT_JOINED before the HELLO_REPLY */
  GThread *thread;
  ScFrameReader *reader;
} FakeServer;

void fake_send (FakeServer *fake, const ScMessage *message);

/* The next message from the client, within the usual deadline. */
ScMessage *fake_read (FakeServer *fake);

FakeServer *fake_server_new (gboolean early_joined);

/* Waits until the handshake thread is done; from then on the test's own
 * thread is the only one using the connection. */
void fake_server_join (FakeServer *fake);

/* Resets the connection, as a crashed server's kernel would. */
void fake_server_kill (FakeServer *fake);

void fake_server_free (FakeServer *fake);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeServer, fake_server_free)

/* A client of the fake server: no heartbeat pings to get in the way. */
Peer *peer_new_for_fake (FakeServer *fake);

G_END_DECLS
