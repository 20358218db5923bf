/* sc-window-history.c: the window's side of the conversation history.
 *
 * What is said in a conversation (not in All activity, which is this
 * session's log as the lab asked for) is written to the ScHistory of
 * the server it was said on, "host:port".  A conversation's log is
 * filled from history when it is made, so opening a conversation, or
 * coming back to a server, shows what was said before.  With the
 * "history-enabled" setting off nothing is read or written; if the
 * store cannot be opened the info bar says why and the window goes on
 * without it. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-window-private.h"

typedef enum
{
  STATE_UNCONFIRMED, /* accepted; no receipt before the connection ended */
  STATE_DELIVERED,
  STATE_FAILED,
} SentState;

static void
open_history (ScWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  self->history = sc_history_new (NULL, &error);
  if (self->history)
    {
      sc_history_set_limit (
        self->history, g_settings_get_uint (self->settings, "history-limit"));
      return;
    }
  /* Translators: the history store could not be opened; the reason. */
  text = g_strdup_printf (_ ("History is not kept in this window: %s"),
                          error->message);
  sc_window_show_info (self, GTK_MESSAGE_WARNING, FALSE, text);
}

static void forget_loaded_rows (gpointer log, gpointer unused);

static void
on_history_enabled (ScWindow *self, const char *key, GSettings *settings)
{
  gboolean enabled = g_settings_get_boolean (settings, "history-enabled");

  if (enabled && self->history == NULL)
    open_history (self);
  else if (!enabled)
    {
      g_clear_object (&self->history);
      /* What the logs show from now on is not in history: their rows no
       * longer say where history goes on. */
      sc_conversations_foreach_log (self->conversations, forget_loaded_rows,
                                    NULL);
      /* A count under way or shown offers what can no longer be loaded. */
      sc_window_search_refresh (self);
    }
}

static void
on_history_limit (ScWindow *self, const char *key, GSettings *settings)
{
  if (self->history)
    sc_history_set_limit (self->history,
                          g_settings_get_uint (settings, "history-limit"));
}

/* ------------------------------------------------------------------ */
/* Reading */

static const char *
state_text (int state, gboolean *failed)
{
  *failed = state == STATE_FAILED;
  switch (state)
    {
    case STATE_DELIVERED: return _ ("delivered");
    case STATE_FAILED: return _ ("not delivered");
    default: return _ ("unconfirmed");
    }
}

/* Shows @entry below the log's lines, or above them when @above. */
static void
show_entry (ScWindow *self,
            ScMessageLog *log,
            const char *key,
            const ScHistoryEntry *entry,
            gboolean above)
{
  g_autofree char *who = NULL;
  const char *state = NULL;
  gboolean failed = FALSE;
  g_autofree char *title = NULL;
  ScLogKind kind;

  switch (entry->kind)
    {
    case SC_HISTORY_KIND_OUTGOING:
    case SC_HISTORY_KIND_BROADCAST_OUT:
      title = sc_client_list_key_title (self->client_list, key);
      who = g_strdup_printf (_ ("→ %s:"), title);
      state = state_text (entry->state, &failed);
      break;
    case SC_HISTORY_KIND_EVENT: who = g_strdup (entry->sender_nickname); break;
    default:
      who = g_strdup_printf (
        _ ("← %s:"), entry->sender_nickname ? entry->sender_nickname : "");
      break;
    }
  kind = entry->kind == SC_HISTORY_KIND_EVENT ? SC_LOG_SYSTEM : SC_LOG_INCOMING;
  if (above)
    sc_message_log_prepend_at (log, kind, who, entry->text, entry->time_us,
                               state, failed);
  else
    sc_message_log_append_at (log, kind, who, entry->text, entry->time_us,
                              state, failed);
}

/* The rows of history a conversation's log shows, kept on the log, as
 * runs of consecutive rows from its top down.  The last run is the log
 * as it was filled when made, and what came since: every message said
 * in the conversation is both put in its log and written to history,
 * so it goes on without end.  (Our own message is written when the
 * server has taken it, so a message received in between comes first in
 * history: the two orders can differ by such a pair, counted the same.
 * While history is off nothing is written, so the logs forget their
 * rows then.)  Runs of older rows put above it
 * (sc_window_history_show_older()) come before, each ending at a note
 * that says what is left out, or where the run below starts. */
typedef struct
{
  gint64 first_row;
  gint64 n_rows;
} RowRun;

typedef struct
{
  GArray *runs; /* RowRun, top first; never empty */
  /* The log's sc_message_log_get_n_gone() when last taken into
   * account: the messages that left its top since then were the first
   * rows of the runs. */
  guint64 n_gone;
} LoadedRows;

#define LOADED_ROWS "sc-window-history-loaded-rows"

static void
loaded_rows_free (LoadedRows *rows)
{
  g_array_unref (rows->runs);
  g_free (rows);
}

static void
forget_loaded_rows (gpointer log, gpointer unused)
{
  g_object_set_data (G_OBJECT (log), LOADED_ROWS, NULL);
}

static void
set_loaded_rows (ScMessageLog *log, GPtrArray *entries)
{
  LoadedRows *rows = g_new0 (LoadedRows, 1);
  /* An empty conversation numbers its first row 1: nothing is older. */
  RowRun live = {
    entries->len > 0 ? ((ScHistoryEntry *) g_ptr_array_index (entries, 0))->row
                     : 1,
    G_MAXINT64,
  };

  rows->runs = g_array_new (FALSE, FALSE, sizeof (RowRun));
  g_array_append_val (rows->runs, live);
  rows->n_gone = sc_message_log_get_n_gone (log);
  g_object_set_data_full (G_OBJECT (log), LOADED_ROWS, rows,
                          (GDestroyNotify) loaded_rows_free);
}

/* Takes the messages that left the log's top (its limit reached while
 * the conversation went on) off the top runs: their rows are only in
 * history now, and a search must count them as older. */
static void
forget_gone_rows (LoadedRows *rows, ScMessageLog *log)
{
  guint64 gone;

  sc_message_log_flush (log);
  gone = sc_message_log_get_n_gone (log) - rows->n_gone;
  rows->n_gone += gone;
  while (gone > 0)
    {
      RowRun *top = &g_array_index (rows->runs, RowRun, 0);

      if (rows->runs->len == 1 || (guint64) top->n_rows > gone)
        {
          top->first_row += (gint64) gone;
          top->n_rows -= (gint64) gone;
          return;
        }
      gone -= (guint64) top->n_rows;
      g_array_remove_index (rows->runs, 0);
    }
}

/* The oldest row of history that @log shows: older rows are only in
 * history.  0 when the log was not filled from history. */
gint64
sc_window_history_get_first_row (ScWindow *self, ScMessageLog *log)
{
  LoadedRows *rows = g_object_get_data (G_OBJECT (log), LOADED_ROWS);

  if (self->history == NULL || rows == NULL)
    return 0;
  forget_gone_rows (rows, log);
  return g_array_index (rows->runs, RowRun, 0).first_row;
}

/* Says that @n_rows rows after the one of @time_us are left out; a
 * conversation keeps at most a million rows, so they fit a guint. */
static void
show_gap (ScMessageLog *log, guint n_rows, gint64 time_us)
{
  g_autofree char *text =
    g_strdup_printf (ngettext ("%u message in between is not shown",
                               "%u messages in between are not shown", n_rows),
                     n_rows);

  sc_message_log_prepend_note (log, text, time_us);
}

/* Rows put above the log at one step.  The GTK thread inserts them at
 * once: 500 lines take it about 25 ms, the log's 5,000 over 200 ms. */
#define OLDER_PAGE_ROWS 500

/* Puts history from @match_row up to what @log shows above its lines,
 * at most a page of it and as far as the log has room for older lines
 * (see sc-window-search.c); when it has none left, the older lines put
 * there before go first. */
void
sc_window_history_show_older (ScWindow *self,
                              const char *key,
                              ScMessageLog *log,
                              gint64 match_row)
{
  LoadedRows *rows = g_object_get_data (G_OBJECT (log), LOADED_ROWS);
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  gint64 page, end, first_row;
  RowRun run;

  /* History was turned off since the count answered. */
  if (self->history == NULL || rows == NULL)
    return;
  first_row = sc_window_history_get_first_row (self, log);
  g_return_if_fail (match_row < first_row);
  /* Two lines at least: the match and the line saying what is between. */
  if (sc_message_log_get_older_room (log) < 2)
    {
      sc_message_log_drop_older (log);
      g_array_remove_range (rows->runs, 0, rows->runs->len - 1);
      first_row = g_array_index (rows->runs, RowRun, 0).first_row;
    }
  page = MIN (sc_message_log_get_older_room (log), OLDER_PAGE_ROWS);
  /* All the rows up to the log's top if they fit, else a line for those
   * that do not. */
  end = first_row - match_row <= page ? first_row : match_row + page - 1;
  entries = sc_history_load_range (self->history, self->history_server, key,
                                   match_row, end, &error);
  if (entries == NULL)
    {
      g_warning ("history of %s on %s: %s", key, self->history_server,
                 error->message);
      return;
    }
  if (end < first_row && entries->len > 0)
    show_gap (log, (guint) (first_row - end),
              ((ScHistoryEntry *) g_ptr_array_index (entries, entries->len - 1))
                ->time_us);
  for (guint i = entries->len; i > 0; i--)
    show_entry (self, log, key, g_ptr_array_index (entries, i - 1), TRUE);
  run.first_row = match_row;
  run.n_rows = (gint64) entries->len;
  if (run.n_rows > 0)
    g_array_prepend_val (rows->runs, run);
}

/* A conversation's new log starts with what history has of it, as much
 * as the log shows. */
static void
on_log_created (ScWindow *self,
                const char *key,
                ScMessageLog *log,
                ScConversations *conversations)
{
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;

  if (self->history == NULL || self->history_server == NULL)
    return;
  entries = sc_history_load (self->history, self->history_server, key,
                             sc_message_log_get_max_lines (log), &error);
  if (entries == NULL)
    {
      g_warning ("history of %s on %s: %s", key, self->history_server,
                 error->message);
      return;
    }
  for (guint i = 0; i < entries->len; i++)
    show_entry (self, log, key, g_ptr_array_index (entries, i), FALSE);
  set_loaded_rows (log, entries);
}

/* ------------------------------------------------------------------ */
/* Writing */

/* Connected to host:port: its conversations are other conversations
 * than the last server's, so their logs are made again from history. */
void
sc_window_history_set_server (ScWindow *self, const char *host, guint16 port)
{
  g_autofree char *server = g_strdup_printf ("%s:%u", host, port);

  if (g_strcmp0 (server, self->history_server) == 0)
    return;
  g_free (self->history_server);
  self->history_server = g_steal_pointer (&server);
  sc_conversations_forget_logs (self->conversations);
}

void
sc_window_history_record (ScWindow *self,
                          const char *key,
                          ScHistoryKind kind,
                          const char *nickname,
                          guint32 sender_id,
                          const char *text,
                          guint64 message_id,
                          gboolean failed)
{
  g_autoptr (ScHistoryEntry) entry = NULL;

  if (self->history == NULL || self->history_server == NULL ||
      g_str_equal (key, SC_CONVERSATION_KEY_ALL))
    return;
  entry = sc_history_entry_new (self->history_server, key, g_get_real_time (),
                                kind, nickname, sender_id, text, message_id,
                                failed ? STATE_FAILED : STATE_UNCONFIRMED);
  sc_history_append (self->history, entry);
}

/* A receipt for a message we sent.  A broadcast has one per recipient;
 * the last one decides what its history says. */
void
sc_window_history_receipt (ScWindow *self, guint64 message_id, gboolean ok)
{
  if (self->history && self->history_server)
    sc_history_update_state (self->history, self->history_server, message_id,
                             ok ? STATE_DELIVERED : STATE_FAILED);
}

/* Empties the logs that came from history (the Preferences button has
 * cleared the store). */
void
sc_window_history_cleared (ScWindow *self)
{
  sc_conversations_forget_logs (self->conversations);
}

void
sc_window_history_init (ScWindow *self)
{
  g_signal_connect_object (self->settings, "changed::history-enabled",
                           G_CALLBACK (on_history_enabled), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::history-limit",
                           G_CALLBACK (on_history_limit), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversations, "log-created",
                           G_CALLBACK (on_log_created), self,
                           G_CONNECT_SWAPPED);
  on_history_enabled (self, NULL, self->settings);
}
