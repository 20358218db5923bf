/* sc-bench-loop.h: many non-blocking client connections on one epoll
 * descriptor, driven by one thread.
 *
 * The loop knows nothing of any protocol: an ScBenchAdapter turns bytes
 * into events and messages into bytes.  Output is appended to a
 * connection's buffer and sent once per loop round, so several frames
 * produced by one round leave in one send(), as a real client's would.
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

typedef struct _ScBenchLoop ScBenchLoop;
typedef struct _ScBenchConn ScBenchConn;
typedef struct _ScBenchAdapter ScBenchAdapter;

/* What a connection is for; the adapter picks its handshake from it. */
typedef enum
{
  SC_BENCH_ROLE_PEER,      /* one side of a pair that message each other */
  SC_BENCH_ROLE_REQUESTER, /* sends requests and waits for their answers */
  SC_BENCH_ROLE_IDLE,      /* handshakes, then only answers keep-alives */
  SC_BENCH_ROLE_COMPANION, /* a PEER's second socket, see ScBenchAdapter */
} ScBenchRole;

typedef enum
{
  SC_BENCH_EVENT_READY,       /* the handshake completed */
  SC_BENCH_EVENT_MESSAGE,     /* a message for this connection: its body */
  SC_BENCH_EVENT_RESPONSE,    /* the answer to this connection's request */
  SC_BENCH_EVENT_SEND_FAILED, /* the system refused a message we sent */
  SC_BENCH_EVENT_ERROR,       /* the connection is unusable */
} ScBenchEventType;

struct _ScBenchConn
{
  ScBenchLoop *loop;
  int fd;
  guint index;
  ScBenchRole role;
  guint pair;        /* PEER: the pair's number */
  guint side;        /* PEER: 0 or 1 */
  ScBenchConn *peer; /* PEER: the other side */
  /* PEER of an adapter with peer_companion: its second socket, and
   * COMPANION: the PEER it belongs to. */
  ScBenchConn *companion;
  /* The port this connection goes to, or 0: the loop's.  A cluster run
   * puts the two sides of a pair on different nodes this way. */
  guint16 port;

  gboolean connecting;
  gboolean handshaking; /* --tls: TCP is up, the TLS handshake is not */
  gnutls_session_t tls; /* --tls: the session, or NULL */
  gboolean ready;
  gboolean dead;
  gboolean dirty; /* on the loop's flush list */
  gboolean watching_output;

  GByteArray *in;  /* the start of an incomplete unit, or NULL */
  GByteArray *out; /* bytes not yet sent, from out_pos; or NULL */
  gsize out_pos;

  /* Adapter state. */
  guint state;     /* the adapter's own: where its handshake is */
  guint64 address; /* the system's name for the connection, once ready */
  guint32 next_request_id;
  guint32 max_payload;

  /* Workload state. */
  guint in_flight;
  gint64 sent_at_ns;
};

/* A system under test, seen from its clients.  Every callback works on
 * one connection; output goes to sc_bench_conn_output(). */
struct _ScBenchAdapter
{
  const char *name;
  guint16 default_port; /* the system's well-known port, or 0 */
  /* The largest message body the protocol carries, or 0: no limit
   * below the bench's own. */
  gsize max_payload;
  /* Every PEER gets a second connection, role COMPANION, added right
   * after it: for systems where one socket cannot both receive and send
   * (a RESP2 Redis subscriber cannot PUBLISH).  Both count towards
   * connect_all(); the adapter decides which one carries what. */
  gboolean peer_companion;
  /* The ways the system can be driven (sockchat-bench --mode), the
   * default first, NULL-terminated; or NULL: only one.  The adapter
   * reads the chosen one's index with sc_bench_loop_get_mode(). */
  const char *const *modes;
  /* At most this many handshakes in progress at once, or 0: the loop's
   * default (256).  Below the server's listen backlog, or connections
   * it has no room for wait for SYN-ACK retransmissions, seconds. */
  guint max_handshakes;
  /* The TCP connection is up: queue the first bytes of the handshake,
   * if the client speaks first. */
  void (*start) (ScBenchConn *conn);
  /* Consume whole units from data, calling sc_bench_conn_emit() for
   * each event and queueing any automatic answers (acknowledgements,
   * keep-alive replies).  Returns the bytes consumed (the rest is kept
   * and offered again with more), or -1 when the stream is broken. */
  gssize (*parse) (ScBenchConn *conn, const guint8 *data, gsize length);
  /* Queue a message carrying body for conn->peer. */
  void (*send_message) (ScBenchConn *conn, const guint8 *body, gsize length);
  /* Queue one request, or NULL when the system has none.  The answer
   * comes back as SC_BENCH_EVENT_RESPONSE. */
  void (*send_request) (ScBenchConn *conn, const guint8 *body, gsize length);
};

typedef void (*ScBenchEventFunc) (ScBenchConn *conn,
                                  ScBenchEventType type,
                                  const guint8 *body,
                                  gsize length,
                                  gpointer user_data);

ScBenchLoop *sc_bench_loop_new (const ScBenchAdapter *adapter,
                                const char *host,
                                guint16 port,
                                gsize payload,
                                GError **error);
void sc_bench_loop_free (ScBenchLoop *loop);
void sc_bench_loop_set_handler (ScBenchLoop *loop,
                                ScBenchEventFunc handler,
                                gpointer user_data);
gsize sc_bench_loop_get_payload (const ScBenchLoop *loop);
guint sc_bench_loop_get_serial (const ScBenchLoop *loop);
void sc_bench_loop_set_mode (ScBenchLoop *loop, guint mode);
gboolean sc_bench_loop_set_tls (ScBenchLoop *loop, GError **error);
guint sc_bench_loop_get_mode (const ScBenchLoop *loop);
const ScBenchAdapter *sc_bench_loop_get_adapter (const ScBenchLoop *loop);

ScBenchConn *
sc_bench_loop_add (ScBenchLoop *loop, ScBenchRole role, guint pair, guint side);
guint sc_bench_loop_n_connections (const ScBenchLoop *loop);
ScBenchConn *sc_bench_loop_get (const ScBenchLoop *loop, guint index);
guint sc_bench_loop_n_dead (const ScBenchLoop *loop);
gboolean
sc_bench_loop_connect_all (ScBenchLoop *loop, guint timeout_ms, GError **error);
void sc_bench_loop_run_once (ScBenchLoop *loop, gint64 until_ns);
void sc_bench_loop_close_all (ScBenchLoop *loop);

GByteArray *sc_bench_conn_output (ScBenchConn *conn);
void sc_bench_conn_emit (ScBenchConn *conn,
                         ScBenchEventType type,
                         const guint8 *body,
                         gsize length);
void sc_bench_conn_fail (ScBenchConn *conn, const char *why);

gint64 sc_bench_now_ns (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScBenchLoop, sc_bench_loop_free)

G_END_DECLS
