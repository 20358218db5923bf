/* sc-client.h: the client core shared by sockchat and sockchat-cli.
 *
 * An ScClient belongs to the thread whose thread-default GMainContext was
 * current when it was created (its owner).  Every callback and signal is
 * delivered there.  A receiver thread reads the socket and hands decoded
 * messages to the owner through a queue and one coalescing idle source;
 * a sender thread writes what the owner queues, so no call here waits on
 * the network.
 *
 * What it reports are typed values (ScPeer, ScChatMessage, the enums
 * below and ScStatus), never the wire format's structs.
 *
 * Signals:
 *   ::message-received (ScChatMessage *message)
 *   ::delivery-receipt (guint64 message_id, guint recipient_id,
 *                       ScStatus status, const char *reason)
 *   ::client-joined (ScPeer *peer)
 *   ::client-left (guint id, const char *reason)
 *   ::client-renamed (guint id, const char *nickname)
 *   ::server-shutdown (const char *reason)
 *   ::disconnected (ScDisconnectReason reason, const char *detail)
 */
#pragma once

#include <gio/gio.h>

#include "sc-chat-message.h"
#include "sc-peer.h"
#include "sc-protocol.h"

G_BEGIN_DECLS

/* Errors a server answered with: the codes are the protocol's status
 * codes (ScStatus), so a program can word them in its own language. */
#define SC_STATUS_ERROR (sc_status_error_quark ())
GQuark sc_status_error_quark (void);

#define SC_TYPE_CLIENT (sc_client_get_type ())
G_DECLARE_FINAL_TYPE (ScClient, sc_client, SC, CLIENT, GObject)

typedef enum
{
  SC_CLIENT_STATE_DISCONNECTED,
  SC_CLIENT_STATE_CONNECTING,
  SC_CLIENT_STATE_CONNECTED,
} ScClientState;

typedef enum
{
  SC_DISCONNECT_BY_US,
  SC_DISCONNECT_BY_SERVER,
  SC_DISCONNECT_CONNECTION_LOST,
  SC_DISCONNECT_PROTOCOL_ERROR,
} ScDisconnectReason;

/* How the server's certificate came to be trusted on a TLS connection. */
typedef enum
{
  SC_TLS_TRUST_NONE,       /* not a TLS connection */
  SC_TLS_TRUST_AUTHORITY,  /* signed by a trusted authority for its name */
  SC_TLS_TRUST_REMEMBERED, /* the one remembered for this host and port */
  SC_TLS_TRUST_FIRST_USE,  /* seen for the first time, and now remembered */
} ScTlsTrust;

ScClient *sc_client_new (const char *program_name);

ScClientState sc_client_get_state (ScClient *self);
guint32 sc_client_get_id (ScClient *self);
const char *sc_client_get_nickname (ScClient *self);
const char *sc_client_get_server_name (ScClient *self);
const char *sc_client_get_host (ScClient *self);
guint16 sc_client_get_port (ScClient *self);
guint sc_client_get_protocol_version (ScClient *self);
guint sc_client_get_max_clients (ScClient *self);
guint sc_client_get_max_payload (ScClient *self);
guint sc_client_get_server_heartbeat (ScClient *self);
gint64 sc_client_get_rtt_us (ScClient *self);
void sc_client_set_request_timeout (ScClient *self, guint timeout_ms);
void sc_client_set_send_timeout (ScClient *self, guint timeout_ms);
void sc_client_set_heartbeat_interval (ScClient *self, guint interval_s);
void sc_client_set_password (ScClient *self, const char *password);
void sc_client_set_tls (ScClient *self, gboolean tls);
gboolean sc_client_get_tls (ScClient *self);
void sc_client_set_trust_new (ScClient *self, gboolean trust_new);
void sc_client_set_allow_plaintext_password (ScClient *self, gboolean allow);
void sc_client_set_accepted_fingerprint (ScClient *self,
                                         const char *fingerprint);
void sc_client_set_known_servers_path (ScClient *self, const char *path);
const char *sc_client_get_tls_fingerprint (ScClient *self);
ScTlsTrust sc_client_get_tls_trust (ScClient *self);

void sc_client_connect_async (ScClient *self,
                              const char *host,
                              guint16 port,
                              const char *nickname,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean
sc_client_connect_finish (ScClient *self, GAsyncResult *result, GError **error);
void sc_client_disconnect (ScClient *self);

void sc_client_get_time_async (ScClient *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
GDateTime *sc_client_get_time_finish (ScClient *self,
                                      GAsyncResult *result,
                                      char **timezone,
                                      GError **error);
char *sc_client_format_time (GDateTime *time);
void sc_client_get_name_async (ScClient *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
char *sc_client_get_name_finish (ScClient *self,
                                 GAsyncResult *result,
                                 GError **error);
void sc_client_list_clients_async (ScClient *self,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
GPtrArray *sc_client_list_clients_finish (ScClient *self,
                                          GAsyncResult *result,
                                          GError **error);
void sc_client_send_message_async (ScClient *self,
                                   guint32 recipient_id,
                                   const char *text,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
guint64 sc_client_send_message_finish (ScClient *self,
                                       GAsyncResult *result,
                                       GError **error);
void sc_client_broadcast_async (ScClient *self,
                                const char *text,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
guint64 sc_client_broadcast_finish (ScClient *self,
                                    GAsyncResult *result,
                                    guint *n_recipients,
                                    GError **error);
void sc_client_set_nickname_async (ScClient *self,
                                   const char *nickname,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
char *sc_client_set_nickname_finish (ScClient *self,
                                     GAsyncResult *result,
                                     GError **error);
void sc_client_ping_async (ScClient *self,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
gint64
sc_client_ping_finish (ScClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
