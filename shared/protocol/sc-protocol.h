/* sc-protocol.h: constants and the fixed frame header of the SockChat
 * wire protocol.  docs/PROTOCOL.md is the specification; this file and
 * sc-message.c follow it exactly.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SC_PROTOCOL_MAGIC      0x5343 /* "SC" */
#define SC_PROTOCOL_VERSION    1
#define SC_FRAME_HEADER_SIZE   16
#define SC_MAX_PAYLOAD_DEFAULT (64 * 1024)
/* The largest payload any peer may configure; the field is 32 bits wide
 * but nothing this big is ever legitimate. */
#define SC_MAX_PAYLOAD_LIMIT (16 * 1024 * 1024)
/* A text must leave room for the sender details the server adds when it
 * forwards it, so it is this much smaller than the payload limit. */
#define SC_TEXT_RESERVE 512
#define SC_NICKNAME_MAX 32
/* HELLO's program string, e.g. "sockchat-cli 1.0". */
#define SC_PROGRAM_MAX  255
#define SC_DEFAULT_PORT 5330

#define SC_ERROR (sc_error_quark ())

/* Errors found in bytes received from a peer, and local failures. */
typedef enum
{
  SC_ERROR_BAD_MAGIC,
  SC_ERROR_BAD_VERSION,
  SC_ERROR_TOO_LARGE,
  SC_ERROR_UNKNOWN_TYPE,
  SC_ERROR_MALFORMED,
  SC_ERROR_BAD_UTF8,
  SC_ERROR_BAD_REQUEST_ID,
  SC_ERROR_STATUS,  /* the peer answered with a non-OK status */
  SC_ERROR_TIMEOUT, /* a request got no response in time */
  SC_ERROR_CLOSED,  /* the connection went away */
  SC_ERROR_INVALID, /* bad input from the local user */
  SC_ERROR_TLS,     /* the TLS handshake or a TLS record failed */
  /* The server's certificate is neither signed by a trusted authority
   * for its name nor remembered for its host and port, and trusting it
   * on first use was not allowed. */
  SC_ERROR_TLS_UNKNOWN_CERTIFICATE,
  /* The server's certificate is not the one remembered for its host and
   * port: someone may be in the middle.  Never trusted on its own. */
  SC_ERROR_TLS_CERTIFICATE_CHANGED,
  /* A password was to be sent on a connection without TLS, which the
   * program did not allow (sc_client_set_allow_plaintext_password()). */
  SC_ERROR_PLAINTEXT_PASSWORD,
} ScError;

/* Message types.  Requests are 0x01-0x0F and are answered by the response
 * type (request | 0x80); client notices are 0x10-0x1F and get no answer;
 * indications are 0x40-0x4F, pushed by the server. */
typedef enum
{
  SC_MSG_HELLO = 0x01,
  SC_MSG_GET_TIME = 0x02,
  SC_MSG_GET_NAME = 0x03,
  SC_MSG_LIST_CLIENTS = 0x04,
  SC_MSG_SEND_MESSAGE = 0x05,
  SC_MSG_BROADCAST = 0x06,
  SC_MSG_SET_NICKNAME = 0x07,
  SC_MSG_PING = 0x08,

  SC_MSG_MESSAGE_ACK = 0x10,
  SC_MSG_PONG = 0x11,
  SC_MSG_MESSAGE_ACKS = 0x12,

  SC_MSG_GREETING = 0x40,
  SC_MSG_MESSAGE = 0x41,
  SC_MSG_DELIVERY_RECEIPT = 0x42,
  SC_MSG_CLIENT_JOINED = 0x43,
  SC_MSG_CLIENT_LEFT = 0x44,
  SC_MSG_CLIENT_RENAMED = 0x45,
  SC_MSG_SERVER_SHUTDOWN = 0x46,
  SC_MSG_PROTOCOL_ERROR = 0x47,
  SC_MSG_SERVER_PING = 0x48,
  SC_MSG_DELIVERY_RECEIPTS = 0x49,

  SC_MSG_HELLO_REPLY = 0x81,
  SC_MSG_GET_TIME_REPLY = 0x82,
  SC_MSG_GET_NAME_REPLY = 0x83,
  SC_MSG_LIST_CLIENTS_REPLY = 0x84,
  SC_MSG_SEND_MESSAGE_REPLY = 0x85,
  SC_MSG_BROADCAST_REPLY = 0x86,
  SC_MSG_SET_NICKNAME_REPLY = 0x87,
  SC_MSG_PING_REPLY = 0x88,
} ScMessageType;

#define SC_MSG_REPLY_BIT 0x80

/* Header flags.  HELLO: the client wants no presence indications
 * (CLIENT_JOINED, CLIENT_LEFT, CLIENT_RENAMED), e.g. a bot or a load
 * generator among thousands of clients. */
#define SC_FLAG_NO_PRESENCE 0x0001
/* HELLO: the client understands DELIVERY_RECEIPTS, one frame carrying the
 * same outcome for many messages.  Without it every outcome comes as its
 * own DELIVERY_RECEIPT. */
#define SC_FLAG_RECEIPT_BATCHES 0x0002

/* GREETING: the server speaks protocol 1.1: it reads MESSAGE_ACKS and the
 * SEND_MESSAGE/BROADCAST flags below, and may set NO_ACK on a MESSAGE.
 * A client uses none of these unless the GREETING carries the bit. */
#define SC_FLAG_PROTOCOL_1_1 0x0001

/* SEND_MESSAGE, BROADCAST: no reply when the message is accepted (a
 * refusal is still answered).  The message id is then the one the sender
 * can compute itself: its client id in the high 32 bits, the request id
 * in the low 32 (every message id is made so). */
#define SC_FLAG_QUIET 0x0001
/* SEND_MESSAGE, BROADCAST: fire and forget: the recipients do not
 * acknowledge and no receipt follows (MQTT's QoS 0). */
#define SC_FLAG_NO_RECEIPT 0x0002

/* MESSAGE: the sender asked for no receipt; do not acknowledge. */
#define SC_FLAG_NO_ACK 0x0001

typedef enum
{
  SC_KIND_INVALID,
  SC_KIND_REQUEST,
  SC_KIND_NOTICE,
  SC_KIND_INDICATION,
  SC_KIND_RESPONSE,
} ScMessageKind;

/* Status codes carried by responses, receipts and error notices. */
typedef enum
{
  SC_STATUS_OK = 0,
  SC_STATUS_BAD_REQUEST = 1,
  SC_STATUS_VERSION_MISMATCH = 2,
  SC_STATUS_NOT_READY = 3,
  SC_STATUS_NO_SUCH_CLIENT = 4,
  SC_STATUS_TOO_LARGE = 5,
  SC_STATUS_RECIPIENT_SLOW = 6,
  SC_STATUS_RECIPIENT_LEFT = 7,
  SC_STATUS_SERVER_FULL = 8,
  SC_STATUS_SHUTTING_DOWN = 9,
  SC_STATUS_INVALID_NICKNAME = 10,
  SC_STATUS_PROTOCOL_ERROR = 11,
  SC_STATUS_TIMEOUT = 12,
  SC_STATUS_AUTH_FAILED = 13,
  SC_STATUS_INTERNAL = 14,
  SC_STATUS_SERVER_BUSY = 15,
  SC_STATUS_RATE_LIMITED = 16,
  SC_STATUS_NICKNAME_IN_USE = 17,
  SC_STATUS_NICKNAME_REGISTERED = 18,
  SC_STATUS_ENCRYPTION_REQUIRED = 19,
  SC_STATUS_UNREACHABLE = 20, /* the recipient's server cannot be reached */
} ScStatus;

/* The fixed header that starts every frame, in host byte order.  The
 * magic and the reserved field are checked or zeroed, not stored. */
typedef struct
{
  guint8 version;
  guint8 type;
  guint16 flags;
  guint32 request_id;
  guint32 payload_length;
} ScFrameHeader;

GQuark sc_error_quark (void);

ScMessageKind sc_message_type_kind (guint type);
gboolean sc_message_type_is_known (guint type);
const char *sc_message_type_name (guint type);
const char *sc_status_to_string (ScStatus status);

gboolean sc_frame_header_parse (const guint8 *bytes,
                                gsize length,
                                guint32 max_payload,
                                ScFrameHeader *header,
                                GError **error);
void sc_frame_header_write (const ScFrameHeader *header,
                            guint8 bytes[SC_FRAME_HEADER_SIZE]);
gssize sc_frame_bytes_needed (const guint8 *bytes,
                              gsize length,
                              guint32 max_payload,
                              GError **error);

G_END_DECLS
