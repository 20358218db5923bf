/* sc-test-peer.h: a small blocking raw-socket SockChat client for the
 * server tests.
 *
 * Every wait has a deadline (5 s unless changed with
 * sc_test_peer_set_timeout()); a wait that runs out fails the test with a
 * message naming the peer, what it waited for and where the test asked.
 * Messages that arrive while the peer waits for something else are kept
 * in arrival order and handed out by later calls.
 */
#pragma once

#include <glib.h>

#include "sc-message.h"

G_BEGIN_DECLS

#define SC_TEST_PEER_TIMEOUT_MS 5000

typedef struct _ScTestPeer ScTestPeer;

ScTestPeer *sc_test_peer_connect_raw (guint16 port, int rcvbuf);
ScTestPeer *sc_test_peer_connect_at (guint16 port, const char *file, int line);
ScTestPeer *sc_test_peer_connect_rcvbuf_at (guint16 port,
                                            int rcvbuf,
                                            const char *file,
                                            int line);
ScTestPeer *
sc_test_peer_connect_raw_from (guint16 port, const char *source, int rcvbuf);
ScTestPeer *sc_test_peer_connect_from_at (guint16 port,
                                          const char *source,
                                          const char *file,
                                          int line);
void sc_test_peer_free (ScTestPeer *peer);

void sc_test_peer_set_timeout (ScTestPeer *peer, guint timeout_ms);
void sc_test_peer_set_auto_ack (ScTestPeer *peer, gboolean auto_ack);
void sc_test_peer_set_auto_pong (ScTestPeer *peer, gboolean auto_pong);

const ScMessage *sc_test_peer_get_greeting (ScTestPeer *peer);
guint32 sc_test_peer_get_id (ScTestPeer *peer);
int sc_test_peer_get_fd (ScTestPeer *peer);
guint16 sc_test_peer_get_local_port (ScTestPeer *peer);
guint32 sc_test_peer_next_request_id (ScTestPeer *peer);
guint sc_test_peer_n_buffered (ScTestPeer *peer);
void sc_test_peer_clear_buffer (ScTestPeer *peer);

void sc_test_peer_send_raw (ScTestPeer *peer, const void *bytes, gsize length);
guint32 sc_test_peer_send (ScTestPeer *peer, ScMessage *message);
void sc_test_peer_send_batch (ScTestPeer *peer,
                              guint32 recipient,
                              const char *text,
                              guint n);
void sc_test_peer_ack (ScTestPeer *peer, guint64 message_id);

ScMessage *sc_test_peer_receive (ScTestPeer *peer, guint timeout_ms);
ScMessage *sc_test_peer_try_expect (ScTestPeer *peer,
                                    ScMessageType type,
                                    guint timeout_ms);
gboolean sc_test_peer_wait_closed (ScTestPeer *peer, guint timeout_ms);

ScMessage *sc_test_peer_hello_at (ScTestPeer *peer,
                                  const char *nickname,
                                  const char *file,
                                  int line);
ScMessage *sc_test_peer_request_at (ScTestPeer *peer,
                                    ScMessage *request,
                                    const char *file,
                                    int line);
ScMessage *sc_test_peer_expect_at (ScTestPeer *peer,
                                   ScMessageType type,
                                   guint32 about,
                                   const char *file,
                                   int line);
void
sc_test_peer_expect_closed_at (ScTestPeer *peer, const char *file, int line);
guint32 sc_test_peer_wait_joined_at (ScTestPeer *peer,
                                     const char *nickname,
                                     const char *file,
                                     int line);
void sc_test_peer_expect_none_at (ScTestPeer *peer,
                                  ScMessageType type,
                                  guint wait_ms,
                                  const char *file,
                                  int line);

/* Connects and reads the GREETING, which the peer keeps. */
#define sc_test_peer_connect(port) \
  sc_test_peer_connect_at ((port), __FILE__, __LINE__)
/* The same, from the local IPv4 address @source (a 127.x.y.z address). */
#define sc_test_peer_connect_from(port, source) \
  sc_test_peer_connect_from_at ((port), (source), __FILE__, __LINE__)
/* Says HELLO with @nickname and asserts that it succeeded; returns the
 * reply.  (transfer full) */
#define sc_test_peer_hello(peer, nickname) \
  sc_test_peer_hello_at ((peer), (nickname), __FILE__, __LINE__)
/* Sends @request (taking ownership; a request id of 0 is replaced by the
 * next one) and returns the response with the same request id.
 * (transfer full) */
#define sc_test_peer_request(peer, request) \
  sc_test_peer_request_at ((peer), (request), __FILE__, __LINE__)
/* The first message of @type, from the buffer or the socket.
 * (transfer full) */
#define sc_test_peer_expect(peer, type) \
  sc_test_peer_expect_at ((peer), (type), 0, __FILE__, __LINE__)
/* The same, but only a message about client @id: the subject of
 * CLIENT_JOINED/LEFT/RENAMED, the sender of a MESSAGE, the recipient of a
 * DELIVERY_RECEIPT. */
#define sc_test_peer_expect_about(peer, type, id) \
  sc_test_peer_expect_at ((peer), (type), (id), __FILE__, __LINE__)
/* Reads until the server closes the connection; whatever arrives first is
 * buffered. */
/* Reads CLIENT_JOINED notices, dropping those about others, until one
 * about @nickname; returns that client's id. */
#define sc_test_peer_wait_joined(peer, nickname) \
  sc_test_peer_wait_joined_at ((peer), (nickname), __FILE__, __LINE__)
#define sc_test_peer_expect_closed(peer) \
  sc_test_peer_expect_closed_at ((peer), __FILE__, __LINE__)
/* Asserts that no message of @type arrives within @wait_ms. */
#define sc_test_peer_expect_none(peer, type, wait_ms) \
  sc_test_peer_expect_none_at ((peer), (type), (wait_ms), __FILE__, __LINE__)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScTestPeer, sc_test_peer_free)

G_END_DECLS
