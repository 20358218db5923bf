/* sc-owed-receipts.c: the receipts a client is owed, encoded on demand.
 *
 * A recipient leaving with thousands of unacknowledged messages owes
 * their senders thousands of receipts at once.  Kept as records, they
 * cost 16 bytes each instead of a frame, and the outbox encodes them only
 * as fast as the sender reads.  A client that said HELLO with
 * RECEIPT_BATCHES gets each run of receipts for one recipient with one
 * status as a single DELIVERY_RECEIPTS frame. */
#include "config.h"

#include "sc-message.h"
#include "sc-owed-receipts.h"

typedef struct
{
  guint64 message_id;
  guint32 recipient_id;
  guint16 status;
} OwedReceipt;

void
sc_owed_receipts_add (ScOwedReceipts *owed,
                      guint64 message_id,
                      guint32 recipient_id,
                      ScStatus status)
{
  OwedReceipt receipt = { message_id, recipient_id, (guint16) status };

  if (owed->receipts == NULL)
    owed->receipts = g_array_new (FALSE, FALSE, sizeof (OwedReceipt));
  g_array_append_val (owed->receipts, receipt);
}

gsize
sc_owed_receipts_count (const ScOwedReceipts *owed)
{
  return owed->receipts ? owed->receipts->len - owed->head : 0;
}

static const char *
receipt_reason (ScStatus status)
{
  switch (status)
    {
    case SC_STATUS_OK: return "";
    case SC_STATUS_RECIPIENT_LEFT: return "the recipient left";
    case SC_STATUS_RECIPIENT_SLOW:
      return "the recipient is too slow: it is not reading or acknowledging";
    case SC_STATUS_SERVER_BUSY: return "the server is at its memory limit";
    default: return sc_status_to_string (status);
    }
}

static const OwedReceipt *
nth_owed (const ScOwedReceipts *owed, guint n)
{
  return &g_array_index (owed->receipts, OwedReceipt, owed->head + n);
}

/* How many owed receipts from the head on share the first one's
 * recipient and status, up to @limit. */
static guint
run_length (const ScOwedReceipts *owed, guint limit)
{
  const OwedReceipt *first = nth_owed (owed, 0);
  guint n = 1;

  while (n < limit && n < sc_owed_receipts_count (owed))
    {
      const OwedReceipt *next = nth_owed (owed, n);

      if (next->recipient_id != first->recipient_id ||
          next->status != first->status)
        break;
      n++;
    }
  return n;
}

static void
encode_single (const OwedReceipt *owed, GByteArray *out)
{
  ScMessage receipt;

  sc_message_init (&receipt, SC_MSG_DELIVERY_RECEIPT, 0);
  receipt.message_id = owed->message_id;
  receipt.peer_id = owed->recipient_id;
  receipt.status = owed->status;
  receipt.reason = (char *) receipt_reason (owed->status);
  sc_message_append_frame (&receipt, out);
}

static void
encode_batch (const OwedReceipt *owed, guint n, GByteArray *out)
{
  ScMessage receipts;
  GArray ids = { 0 };
  guint64 values[n];

  for (guint i = 0; i < n; i++)
    values[i] = owed[i].message_id;
  ids.data = (char *) values;
  ids.len = n;
  sc_message_init (&receipts, SC_MSG_DELIVERY_RECEIPTS, 0);
  receipts.peer_id = owed->recipient_id;
  receipts.status = owed->status;
  receipts.reason = (char *) receipt_reason (owed->status);
  receipts.message_ids = &ids;
  sc_message_append_frame (&receipts, out);
}

/* Appends the next frame to @out and forgets the receipts it carries: one
 * DELIVERY_RECEIPT, or with @batch_limit above 1 a DELIVERY_RECEIPTS of
 * up to that many.  Returns FALSE when nothing is owed. */
gboolean
sc_owed_receipts_encode_next (ScOwedReceipts *owed,
                              guint batch_limit,
                              GByteArray *out)
{
  guint n;

  if (sc_owed_receipts_count (owed) == 0)
    return FALSE;
  n = batch_limit > 1 ? run_length (owed, batch_limit) : 1;
  if (n == 1)
    encode_single (nth_owed (owed, 0), out);
  else
    encode_batch (nth_owed (owed, 0), n, out);
  owed->head += n;
  /* The array grows with a burst; its memory goes when the burst is out. */
  if (sc_owed_receipts_count (owed) == 0)
    sc_owed_receipts_clear (owed);
  return TRUE;
}

void
sc_owed_receipts_clear (ScOwedReceipts *owed)
{
  g_clear_pointer (&owed->receipts, g_array_unref);
  owed->head = 0;
}
