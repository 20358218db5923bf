/* sc-bench-adapter-mqtt.c: MQTT 3.1.1 (mosquitto), at QoS 0 or QoS 1.
 *
 * Handshake: CONNECT (clean session, keep-alive 0 so the broker never
 * expects a PINGREQ, a client id unique to this process and run), and
 * on CONNACK, SUBSCRIBE to the connection's own topic "c/<index>" at
 * the mode's QoS; ready on its SUBACK, if the broker granted that QoS.
 * A requester does not subscribe: it is ready on CONNACK.  A message
 * for peer i is a PUBLISH to "c/<i>"; every PUBLISH received is a
 * message for this connection.  A request is PINGREQ, answered by
 * PINGRESP, in either mode.
 *
 * Modes: "qos0" (the default) publishes and subscribes at QoS 0: fire
 * and forget.  "qos1" publishes at QoS 1, which the broker acknowledges
 * to the publisher with PUBACK once it has taken the message, and
 * subscribes at QoS 1, so the broker delivers at QoS 1 and the
 * subscriber answers each delivery with PUBACK: at least once, the
 * closest MQTT has to SockChat's MESSAGE_ACK and DELIVERY_RECEIPT
 * (MQTT tells the publisher nothing about the subscriber's PUBACK).  As
 * for every system, a message counts as delivered, and the sender's
 * window is refilled, when the subscriber has read it; the PUBACKs the
 * publisher gets are read and dropped, like SockChat's receipts.
 *
 * Every packet is a type byte, the remaining length as a base-128
 * varint of at most four bytes, and that many bytes (MQTT 3.1.1, 2.2).
 */
#include "sc-bench-adapter.h"

#include <unistd.h>

#define MQTT_CONNECT   1
#define MQTT_CONNACK   2
#define MQTT_PUBLISH   3
#define MQTT_PUBACK    4
#define MQTT_SUBSCRIBE 8
#define MQTT_SUBACK    9
#define MQTT_PINGREQ   12
#define MQTT_PINGRESP  13

/* The largest remaining length the four varint bytes can say, and the
 * largest the bench accepts (its bodies are at most 60,000 bytes). */
#define MQTT_MAX_REMAINING 268435455u
#define MQTT_MAX_PACKET    (1024 * 1024)

/* The modes, in the order of mqtt_modes[]; the index is the QoS. */
enum
{
  MQTT_MODE_QOS0,
  MQTT_MODE_QOS1,
};

static guint
mode_qos (const ScBenchConn *conn)
{
  return sc_bench_loop_get_mode (conn->loop) == MQTT_MODE_QOS1 ? 1 : 0;
}

/* A packet identifier for the next QoS 1 PUBLISH: 1 to 65535, in turn.
 * One is reused only after 65,535 later messages, long after its
 * PUBACK (a sender has at most its window in flight). */
static guint16
next_packet_id (ScBenchConn *conn)
{
  if (conn->next_request_id == 0 || conn->next_request_id > G_MAXUINT16)
    conn->next_request_id = 1;
  return conn->next_request_id++;
}

static void
append_remaining_length (GByteArray *out, guint32 length)
{
  g_assert (length <= MQTT_MAX_REMAINING);
  do
    {
      guint8 byte = length % 128;

      length /= 128;
      if (length > 0)
        byte |= 0x80;
      g_byte_array_append (out, &byte, 1);
    }
  while (length > 0);
}

static void
append_u16 (GByteArray *out, guint16 value)
{
  guint8 bytes[2] = { value >> 8, value & 0xff };

  g_byte_array_append (out, bytes, 2);
}

static void
append_string (GByteArray *out, const char *string, gsize length)
{
  g_assert (length <= G_MAXUINT16);
  append_u16 (out, length);
  g_byte_array_append (out, (const guint8 *) string, length);
}

/* Returns the bytes a packet at data still needs beyond length (0: it is
 * all there, then *header and *remaining say where its body starts and
 * how long it is), or -1 when the length field is malformed or past the
 * cap. */
static gssize
packet_bytes_needed (const guint8 *data,
                     gsize length,
                     gsize *header,
                     gsize *remaining)
{
  guint32 value = 0;

  for (gsize i = 1; i <= 4; i++)
    {
      if (i >= length)
        return 1;
      value |= (guint32) (data[i] & 0x7f) << (7 * (i - 1));
      if ((data[i] & 0x80) == 0)
        {
          if (value > MQTT_MAX_PACKET)
            return -1;
          *header = i + 1;
          *remaining = value;
          return length - *header >= value ? 0 : value - (length - *header);
        }
    }
  return -1;
}

static void
mqtt_start (ScBenchConn *conn)
{
  GByteArray *out = sc_bench_conn_output (conn);
  g_autofree char *id =
    g_strdup_printf ("sb%d-%u-%u", (int) getpid (),
                     sc_bench_loop_get_serial (conn->loop), conn->index);
  gsize id_length = strlen (id);
  guint8 type = MQTT_CONNECT << 4;
  static const guint8 variable_header[] = {
    0,    4, 'M', 'Q', 'T', 'T', /* protocol name */
    4,                           /* level: 3.1.1 */
    0x02,                        /* flags: clean session */
    0,    0,                     /* keep-alive: off */
  };

  g_byte_array_append (out, &type, 1);
  append_remaining_length (out, sizeof variable_header + 2 + id_length);
  g_byte_array_append (out, variable_header, sizeof variable_header);
  append_string (out, id, id_length);
}

static void
send_subscribe (ScBenchConn *conn)
{
  GByteArray *out = sc_bench_conn_output (conn);
  g_autofree char *topic = g_strdup_printf ("c/%u", conn->index);
  gsize topic_length = strlen (topic);
  guint8 type = MQTT_SUBSCRIBE << 4 | 0x2; /* the flags 3.1.1 requires */
  guint8 qos = mode_qos (conn);

  g_byte_array_append (out, &type, 1);
  append_remaining_length (out, 2 + 2 + topic_length + 1);
  append_u16 (out, 1); /* packet identifier */
  append_string (out, topic, topic_length);
  g_byte_array_append (out, &qos, 1);
}

static gboolean
handle_packet (ScBenchConn *conn,
               const guint8 *data,
               gsize header,
               gsize length)
{
  const guint8 *body = data + header;
  guint type = data[0] >> 4;

  switch (type)
    {
    case MQTT_PUBLISH:
      {
        guint qos = (data[0] >> 1) & 0x3;
        gsize pos;

        if (length < 2)
          return FALSE;
        pos = 2 + ((gsize) body[0] << 8 | body[1]);
        if (qos == 1)
          {
            /* Acknowledged before the workload sees it (and may answer),
             * as a client library would. */
            guint8 puback[4] = { MQTT_PUBACK << 4, 2 };

            if (pos + 2 > length)
              return FALSE;
            puback[2] = body[pos];
            puback[3] = body[pos + 1];
            g_byte_array_append (sc_bench_conn_output (conn), puback,
                                 sizeof puback);
            pos += 2;
          }
        else if (qos != 0)
          {
            /* We subscribe at 0 or 1: the broker never delivers at 2. */
            g_warning ("connection %u: PUBLISH at QoS %u", conn->index, qos);
            return FALSE;
          }
        if (pos > length)
          return FALSE;
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, body + pos,
                            length - pos);
        return TRUE;
      }

    case MQTT_PUBACK:
      /* The broker has our QoS 1 message: nothing to do, as with
       * SockChat's SEND_MESSAGE_REPLY and DELIVERY_RECEIPT. */
      return length == 2;

    case MQTT_PINGRESP:
      sc_bench_conn_emit (conn, SC_BENCH_EVENT_RESPONSE, NULL, 0);
      return TRUE;

    case MQTT_CONNACK:
      if (length != 2 || body[1] != 0)
        {
          g_warning ("connection %u: CONNACK return code %u", conn->index,
                     length == 2 ? body[1] : 255);
          return FALSE;
        }
      if (conn->role == SC_BENCH_ROLE_REQUESTER)
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
      else
        send_subscribe (conn);
      return TRUE;

    case MQTT_SUBACK:
      if (length != 3 || body[2] != mode_qos (conn))
        {
          /* 0x80 is a refusal; a lower QoS would measure another mode. */
          g_warning ("connection %u: subscription refused or downgraded "
                     "(SUBACK %u)",
                     conn->index, length == 3 ? body[2] : 255);
          return FALSE;
        }
      sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
      return TRUE;

    default: return TRUE;
    }
}

static gssize
mqtt_parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize pos = 0;

  while (pos < length && !conn->dead)
    {
      gsize header = 0, remaining = 0;
      gssize needed =
        packet_bytes_needed (data + pos, length - pos, &header, &remaining);

      if (needed < 0)
        return -1;
      if (needed > 0)
        break;
      if (!handle_packet (conn, data + pos, header, remaining))
        return -1;
      pos += header + remaining;
    }
  return pos;
}

static void
mqtt_send_message (ScBenchConn *conn, const guint8 *body, gsize length)
{
  GByteArray *out = sc_bench_conn_output (conn);
  char topic[24];
  int topic_length =
    g_snprintf (topic, sizeof topic, "c/%u", conn->peer->index);
  guint qos = mode_qos (conn);
  /* No DUP, no RETAIN. */
  guint8 type = MQTT_PUBLISH << 4 | qos << 1;

  g_byte_array_append (out, &type, 1);
  append_remaining_length (out, 2 + topic_length + (qos > 0 ? 2 : 0) + length);
  append_string (out, topic, topic_length);
  if (qos > 0)
    append_u16 (out, next_packet_id (conn));
  g_byte_array_append (out, body, length);
}

static void
mqtt_send_request (ScBenchConn *conn, const guint8 *body, gsize length)
{
  static const guint8 pingreq[] = { MQTT_PINGREQ << 4, 0 };

  g_byte_array_append (sc_bench_conn_output (conn), pingreq, sizeof pingreq);
}

static const char *const mqtt_modes[] = { "qos0", "qos1", NULL };

const ScBenchAdapter sc_bench_adapter_mqtt = {
  .name = "mqtt",
  .default_port = 1883,
  .modes = mqtt_modes,
  .start = mqtt_start,
  .parse = mqtt_parse,
  .send_message = mqtt_send_message,
  .send_request = mqtt_send_request,
};
