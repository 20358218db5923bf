/* sc-bench-adapter-mqtt.c: MQTT 3.1.1 at QoS 0 (mosquitto).
 *
 * Handshake: CONNECT (clean session, keep-alive 0 so the broker never
 * expects a PINGREQ, a client id unique to this process and run), and
 * on CONNACK, SUBSCRIBE to the connection's own topic "c/<index>" at
 * QoS 0; ready on its SUBACK.  A requester does not subscribe: it is
 * ready on CONNACK.  A message for peer i is a QoS 0 PUBLISH to
 * "c/<i>"; every PUBLISH received is a message for this connection.  A
 * request is PINGREQ, answered by PINGRESP.
 *
 * Every packet is a type byte, the remaining length as a base-128
 * varint of at most four bytes, and that many bytes (MQTT 3.1.1, 2.2).
 */
#include "sc-bench-adapter.h"

#include <unistd.h>

#define MQTT_CONNECT   1
#define MQTT_CONNACK   2
#define MQTT_PUBLISH   3
#define MQTT_SUBSCRIBE 8
#define MQTT_SUBACK    9
#define MQTT_PINGREQ   12
#define MQTT_PINGRESP  13

/* The largest remaining length the four varint bytes can say, and the
 * largest the bench accepts (its bodies are at most 60,000 bytes). */
#define MQTT_MAX_REMAINING 268435455u
#define MQTT_MAX_PACKET    (1024 * 1024)

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
  guint8 qos = 0;

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
        /* QoS 1 and 2 carry a packet identifier; we subscribe at 0, so
         * the broker never sends them, but skip it if it did. */
        if (qos > 0)
          pos += 2;
        if (pos > length)
          return FALSE;
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, body + pos,
                            length - pos);
        return TRUE;
      }

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
      if (length != 3 || body[2] == 0x80)
        {
          g_warning ("connection %u: subscription refused", conn->index);
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
  guint8 type = MQTT_PUBLISH << 4; /* QoS 0, no DUP, no RETAIN */

  g_byte_array_append (out, &type, 1);
  append_remaining_length (out, 2 + topic_length + length);
  append_string (out, topic, topic_length);
  g_byte_array_append (out, body, length);
}

static void
mqtt_send_request (ScBenchConn *conn, const guint8 *body, gsize length)
{
  static const guint8 pingreq[] = { MQTT_PINGREQ << 4, 0 };

  g_byte_array_append (sc_bench_conn_output (conn), pingreq, sizeof pingreq);
}

const ScBenchAdapter sc_bench_adapter_mqtt = {
  .name = "mqtt",
  .default_port = 1883,
  .start = mqtt_start,
  .parse = mqtt_parse,
  .send_message = mqtt_send_message,
  .send_request = mqtt_send_request,
};
