/* sc-cluster-kill.c: scenario 4: clients of the victim node hold
 * unacknowledged messages and the node is killed: CLIENT_LEFT elsewhere,
 * one failed receipt per message. */
#include "config.h"

#include <signal.h>
#include <unistd.h>

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

typedef struct
{
  GHashTable *left;    /* client id set: CLIENT_LEFT seen by an observer */
  GHashTable *outcome; /* "message_id:recipient" -> count */
  guint failed, succeeded, dupes, delivered;
} Kill;

static Kill kill_state;

static void
kill_message (Client *client, ScMessage *message)
{
  if (message->type == SC_MSG_CLIENT_LEFT)
    {
      guint64 key = (guint64) client->id << 32 | message->client_id;

      g_hash_table_add (kill_state.left, g_memdup2 (&key, sizeof key));
    }
  else if (message->type == SC_MSG_MESSAGE)
    kill_state.delivered++;
  else if (message->type == SC_MSG_DELIVERY_RECEIPT)
    {
      g_autofree char *key = g_strdup_printf (
        "%" G_GUINT64_FORMAT ":%u", message->message_id, message->peer_id);
      guint n =
        GPOINTER_TO_UINT (g_hash_table_lookup (kill_state.outcome, key));

      if (n > 0)
        kill_state.dupes++;
      if (message->status == SC_STATUS_OK)
        kill_state.succeeded++;
      else
        kill_state.failed++;
      g_hash_table_replace (kill_state.outcome, g_steal_pointer (&key),
                            GUINT_TO_POINTER (n + 1));
    }
}

static guint kill_goal;

static gboolean
all_delivered (gpointer data)
{
  return kill_state.delivered >= kill_goal;
}

typedef struct
{
  GPtrArray *observers;
  GPtrArray *victims;
} KillWatch;

static gboolean
all_left (gpointer data)
{
  KillWatch *watch = data;

  for (guint i = 0; i < watch->observers->len; i++)
    for (guint j = 0; j < watch->victims->len; j++)
      {
        guint64 key =
          (guint64) ((Client *) g_ptr_array_index (watch->observers, i))->id
            << 32 |
          ((Client *) g_ptr_array_index (watch->victims, j))->id;

        if (!g_hash_table_contains (kill_state.left, &key))
          return FALSE;
      }
  return kill_state.failed >= kill_goal;
}

int
run_kill (guint victim_node, GPid pid, guint n_victims, const char *out_path)
{
  g_autoptr (GPtrArray) observers = g_ptr_array_new ();
  g_autoptr (GPtrArray) victims = g_ptr_array_new ();
  g_autoptr (GPtrArray) senders = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = NULL;
  g_autoptr (GString) ids = g_string_new (NULL);
  KillWatch watch = { observers, victims };
  guint per_victim = 5;
  gint64 killed_at;
  double seconds;

  on_message = kill_message;
  kill_state.left =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  kill_state.outcome =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint node = 0; node < n_ports; node++)
    if (node != victim_node)
      {
        g_autofree char *watcher = g_strdup_printf ("watcher%u", node);
        g_autofree char *sender = g_strdup_printf ("sender%u", node);

        g_ptr_array_add (observers, connect_client (node, watcher, 0, TRUE));
        g_ptr_array_add (
          senders, connect_client (node, sender, SC_FLAG_NO_PRESENCE, TRUE));
      }
  for (guint i = 0; i < n_victims; i++)
    {
      /* Nicknames are unique on a node. */
      g_autofree char *name = g_strdup_printf ("victim%u", i);
      Client *victim =
        connect_client (victim_node, name, SC_FLAG_NO_PRESENCE, TRUE);

      victim->acks = FALSE; /* holds every message unacknowledged */
      g_ptr_array_add (victims, victim);
      g_string_append_printf (ids, "%u\n", victim->id);
    }
  g_file_set_contents (out_path, ids->str, (gssize) ids->len, NULL);
  listers = g_ptr_array_copy (observers, NULL, NULL);
  /* Every victim listed on both other nodes before anything is sent to
   * them: lists that agree may still both lack the newest. */
  if (!wait_lists_agree (listers, observers->len + senders->len + victims->len,
                         10000, NULL))
    g_printerr ("# kill: lists did not agree before the kill\n");
  for (guint s = 0; s < senders->len; s++)
    for (guint v = 0; v < victims->len; v++)
      for (guint k = 0; k < per_victim; k++)
        {
          Client *sender = g_ptr_array_index (senders, s);
          ScMessage send;

          sc_message_init (&send, SC_MSG_SEND_MESSAGE, ++sender->next_request);
          send.flags = SC_FLAG_QUIET;
          send.peer_id = ((Client *) g_ptr_array_index (victims, v))->id;
          send.text = (char *) "unacknowledged";
          queue (sender, &send);
        }
  kill_goal = senders->len * victims->len * per_victim;
  ok (pump_until (all_delivered, NULL, 10000),
      "kill: %u messages reached the victim node's clients, unacknowledged",
      kill_goal);
  kill (pid, SIGKILL);
  killed_at = now_us ();
  for (guint i = 0; i < victims->len; i++)
    {
      Client *victim = g_ptr_array_index (victims, i);

      close (victim->fd);
      victim->fd = -1;
    }
  pump_until (all_left, &watch, 10000);
  seconds = (now_us () - killed_at) / 1e6;
  ok (all_left (&watch) && seconds <= 7.0,
      "kill: CLIENT_LEFT for all %u victims on the %u other nodes in %.2f s "
      "(bound 7 s)",
      victims->len, observers->len, seconds);
  ok (kill_state.failed == kill_goal && kill_state.succeeded == 0 &&
        kill_state.dupes == 0,
      "kill: one failed receipt per unacknowledged message: %u failed of %u, "
      "%u OK, %u duplicates",
      kill_state.failed, kill_goal, kill_state.succeeded, kill_state.dupes);
  for (guint i = 0; i < victims->len; i++)
    g_ptr_array_remove (clients, g_ptr_array_index (victims, i));
  return 0;
}
