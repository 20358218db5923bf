/* sc-message.h: one decoded SockChat message and its codec.
 *
 * ScMessage is a plain struct holding the union of every message's fields;
 * docs/PROTOCOL.md lists which fields each type carries, and sc-message.c
 * encodes exactly those in that order.  After decoding, the string fields
 * of the message's own type are never NULL (an absent nickname is ""),
 * except the optional password, where absent and empty differ; string
 * fields that belong to other types are NULL.
 */
#pragma once

#include <glib.h>

#include "sc-protocol.h"

G_BEGIN_DECLS

typedef struct
{
  guint32 id;
  guint16 port;
  gint64 connected_since_ms;
  char *nickname;
  char *address;
} ScClientInfo;

typedef struct
{
  ScMessageType type;
  guint16 flags;
  guint32 request_id;

  /* Responses (always), receipts, protocol errors, client-left. */
  ScStatus status;
  char *reason;

  guint8 version;     /* GREETING, HELLO */
  guint32 client_id;  /* GREETING, HELLO_REPLY, CLIENT_LEFT/RENAMED */
  guint32 peer_id;    /* SEND_MESSAGE recipient, DELIVERY_RECEIPT recipient,
                         LIST_CLIENTS resume-after id */
  guint64 message_id; /* SEND/BROADCAST replies, MESSAGE, ACK, RECEIPT */
  guint64 token;      /* PING, PONG, SERVER_PING and the ping reply */
  gint64 time_ms;     /* GET_TIME_REPLY, MESSAGE timestamp */
  guint32 count;      /* BROADCAST_REPLY recipients, LIST total */
  guint8 more;        /* LIST_CLIENTS_REPLY: further pages follow */
  guint8 broadcast;   /* MESSAGE: sent to everyone */
  guint32 max_payload;
  guint32 max_clients;
  guint32 heartbeat_s;

  char *name;     /* GREETING server, GET_NAME host, HELLO program */
  char *nickname; /* HELLO, SET_NICKNAME, their replies, CLIENT_RENAMED */
  char *text;     /* SEND_MESSAGE, BROADCAST, MESSAGE */
  char *iso_time; /* GET_TIME_REPLY */
  char *timezone; /* GET_TIME_REPLY */
  char *password; /* HELLO, SET_NICKNAME (optional trailing field) */

  ScClientInfo sender; /* MESSAGE; CLIENT_JOINED's subject */
  GPtrArray *clients;  /* LIST_CLIENTS_REPLY: ScClientInfo* */
  GArray *message_ids; /* DELIVERY_RECEIPTS: guint64 */
} ScMessage;

ScMessage *sc_message_new (ScMessageType type, guint32 request_id);
void
sc_message_init (ScMessage *message, ScMessageType type, guint32 request_id);
ScMessage *sc_message_new_reply (const ScMessage *request,
                                 ScStatus status,
                                 const char *reason);
void sc_message_free (ScMessage *message);

ScClientInfo *sc_client_info_new (void);
ScClientInfo *sc_client_info_copy (const ScClientInfo *info);
void sc_client_info_clear (ScClientInfo *info);
void sc_client_info_free (ScClientInfo *info);
void sc_client_info_copy_into (ScClientInfo *dest, const ScClientInfo *src);

void sc_message_append_frame (const ScMessage *message, GByteArray *out);
GBytes *sc_message_encode (const ScMessage *message);
ScMessage *sc_message_decode (const ScFrameHeader *header,
                              const guint8 *payload,
                              GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScMessage, sc_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScClientInfo, sc_client_info_free)

G_END_DECLS
