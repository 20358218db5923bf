/* sc-window-search.c: Ctrl+F, searching the conversation shown.
 *
 * The log holds only its newest lines (the "log-lines" setting), while
 * history may keep many more.  So a search has two parts: the log
 * highlights the matches it holds at once, and a worker thread counts the
 * matches history holds further back (sc_history_count_older_async()),
 * which the label then adds: "3 matches · 2 older in history".
 *
 * What is searched is the text of the messages, what people wrote: not
 * the time stamp, the name or the arrow before it, nor the delivery
 * state after it, which the log adds and history does not keep.  Both
 * sides count every occurrence, case aside, in the same Unicode form
 * (GtkTextIter's case-insensitive search; sc-history-db.c folds
 * history's text alike), so the highlights, the count and the count of
 * older matches agree: a name counts only where someone wrote it.
 *
 * "Older" means older than the log's top line, whose row of history
 * sc_window_history_get_first_row() follows as the log lets messages go
 * from its top (its limit reached while the conversation runs, or
 * lines dropped before a conversation in the background was shown):
 * their matches are counted, and reached, in history.
 *
 * Going to an older match than the oldest in view (Enter past it, or the
 * Show Older button) loads history from that match up to the top of the
 * log and puts it above the log's lines (sc_window_history_show_older()).
 * The log allows such older lines beyond its limit, up to the limit
 * again, and new lines push them out first; so memory stays bounded and
 * the conversation never loses its newest lines.  One step loads at most
 * a page (500 rows, a few tens of milliseconds on the GTK thread): when
 * the match is further back than that, or than the room left, a line
 * says how many messages in between are not shown.  Then the older
 * matches are counted again from the new top. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-window-private.h"

static void
show_match_count (ScWindow *self)
{
  g_autofree char *in_view = NULL;
  g_autofree char *in_history = NULL;
  g_autofree char *text = NULL;
  guint n = self->search_n_in_view;
  guint older = self->search_n_older;

  if (gtk_entry_get_text_length (GTK_ENTRY (self->search_entry)) > 0)
    in_view = n == 0
                ? g_strdup (_ ("No matches"))
                : g_strdup_printf (ngettext ("%u match", "%u matches", n), n);
  if (in_view != NULL && older > 0)
    {
      in_history = g_strdup_printf (
        /* Translators: matches of a search that only the history holds,
         * not the conversation's log; after "%u matches · ". */
        ngettext ("%u older in history", "%u older in history", older), older);
      /* Translators: the search bar's count: the matches in view
       * ("3 matches"), then those in history ("2 older in history"). */
      text = g_strdup_printf (_ ("%s · %s"), in_view, in_history);
    }
  gtk_label_set_text (self->search_label, text ? text : in_view ? in_view : "");
  gtk_widget_set_visible (GTK_WIDGET (self->search_older_button), older > 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->search_older_button),
                            self->search_older_row > 0);
}

static void show_older (ScWindow *self);

static void
cancel_count (ScWindow *self)
{
  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  g_clear_pointer (&self->search_counted, g_free);
}

/* The question a count of older matches answers: this needle, in this
 * server's conversation, before this row. */
static char *
count_question (ScWindow *self, gint64 first_row)
{
  return g_strdup_printf (
    "%s\n%s\n%" G_GINT64_FORMAT "\n%s",
    self->history_server ? self->history_server : "",
    sc_conversations_get_visible_key (self->conversations), first_row,
    gtk_entry_get_text (GTK_ENTRY (self->search_entry)));
}

static void
on_count_older (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScWindow) self = data;
  g_autoptr (GError) error = NULL;
  guint n_older = 0;
  gint64 newest_row = 0;

  if (!sc_history_count_older_finish (SC_HISTORY (source), result, &n_older,
                                      &newest_row, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("searching history: %s", error->message);
      /* Not answered: the next search asks again, and an Enter given
       * meanwhile waits for nothing. */
      g_clear_object (&self->search_cancellable);
      g_clear_pointer (&self->search_counted, g_free);
      self->search_older_wanted = FALSE;
      return;
    }
  g_clear_object (&self->search_cancellable);
  self->search_n_older = n_older;
  self->search_older_row = newest_row;
  show_match_count (self);
  if (self->search_older_wanted)
    show_older (self);
}

/* Asks history for the matches older than what the visible log shows. */
static void
start_count_older (ScWindow *self)
{
  ScMessageLog *log = sc_conversations_get_visible_log (self->conversations);
  const char *key = sc_conversations_get_visible_key (self->conversations);
  const char *needle = gtk_entry_get_text (GTK_ENTRY (self->search_entry));
  gint64 first_row = sc_window_history_get_first_row (self, log);

  cancel_count (self);
  self->search_n_older = 0;
  self->search_older_row = 0;
  self->search_older_wanted = FALSE;
  if (first_row <= 1 || *needle == '\0' || self->history == NULL)
    return;
  self->search_counted = count_question (self, first_row);
  self->search_cancellable = g_cancellable_new ();
  sc_history_count_older_async (self->history, self->history_server, key,
                                needle, first_row, self->search_cancellable,
                                on_count_older, g_object_ref (self));
}

/* Whether the count under way or done answers the search now shown.
 * GtkSearchEntry says "search-changed" 150 ms after the last key even
 * when something (Enter, the conversation list) has already searched the
 * same text; counting again would forget an Enter given meanwhile. */
static gboolean
count_is_current (ScWindow *self)
{
  ScMessageLog *log = sc_conversations_get_visible_log (self->conversations);
  g_autofree char *question =
    count_question (self, sc_window_history_get_first_row (self, log));

  return g_strcmp0 (question, self->search_counted) == 0;
}

static void
on_search_changed (ScWindow *self, GtkSearchEntry *entry)
{
  ScMessageLog *log = sc_conversations_get_visible_log (self->conversations);
  const char *needle = gtk_entry_get_text (GTK_ENTRY (entry));

  self->search_n_in_view = sc_message_log_search (log, needle);
  if (!count_is_current (self))
    start_count_older (self);
  show_match_count (self);
}

/* Loads the newest match that history has beyond the log, makes it the
 * current one, and counts what is left further back. */
static void
show_older (ScWindow *self)
{
  ScMessageLog *log = sc_conversations_get_visible_log (self->conversations);
  const char *key = sc_conversations_get_visible_key (self->conversations);
  const char *needle = gtk_entry_get_text (GTK_ENTRY (self->search_entry));
  guint n_older = self->search_n_older;
  guint n_in_view = self->search_n_in_view;
  guint loaded;

  /* Asked for before the count answered: it will go on from there. */
  self->search_older_wanted =
    self->search_older_row <= 0 && self->search_cancellable != NULL;
  if (self->search_older_row <= 0)
    return;
  sc_window_history_show_older (self, key, log, self->search_older_row);
  self->search_n_in_view = sc_message_log_search (log, needle);
  sc_message_log_search_show_oldest (log);
  start_count_older (self);
  /* Until the new count comes, the best guess: the matches that came
   * into view, all in the one row loaded, are no longer older (at least
   * one, if older lines with matches had to go to make room). */
  loaded =
    self->search_n_in_view > n_in_view ? self->search_n_in_view - n_in_view : 1;
  if (self->search_cancellable != NULL)
    self->search_n_older = n_older - MIN (n_older, loaded);
  show_match_count (self);
}

/* Enter and Shift+Enter (or Ctrl+G, Ctrl+Shift+G) go to older and
 * newer matches: the newest is shown first, and past the oldest in view
 * comes the next one from history. */
static void
on_search_previous (ScWindow *self, GtkSearchEntry *entry)
{
  if (!sc_message_log_search_step (
        sc_conversations_get_visible_log (self->conversations), TRUE))
    show_older (self);
}

static void
on_search_next (ScWindow *self, GtkSearchEntry *entry)
{
  sc_message_log_search_step (
    sc_conversations_get_visible_log (self->conversations), FALSE);
}

static void
on_search_older_clicked (ScWindow *self, GtkButton *button)
{
  show_older (self);
}

static void
on_search_mode (ScWindow *self, GParamSpec *pspec, GtkSearchBar *bar)
{
  if (gtk_search_bar_get_search_mode (bar))
    return;
  cancel_count (self);
  self->search_n_in_view = sc_message_log_search (
    sc_conversations_get_visible_log (self->conversations), NULL);
  self->search_n_older = 0;
  self->search_older_row = 0;
  self->search_older_wanted = FALSE;
  gtk_entry_set_text (GTK_ENTRY (self->search_entry), "");
  show_match_count (self);
}

/* The conversation shown changed: search it instead. */
void
sc_window_search_refresh (ScWindow *self)
{
  if (gtk_search_bar_get_search_mode (self->search_bar))
    on_search_changed (self, self->search_entry);
}

void
sc_window_search_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_search_next);
  gtk_widget_class_bind_template_callback (widget_class, on_search_previous);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_search_older_clicked);
}

void
sc_window_search_init (ScWindow *self)
{
  gtk_search_bar_connect_entry (self->search_bar,
                                GTK_ENTRY (self->search_entry));
  g_signal_connect_object (self->search_bar, "notify::search-mode-enabled",
                           G_CALLBACK (on_search_mode), self,
                           G_CONNECT_SWAPPED);
}

void
sc_window_search_dispose (ScWindow *self)
{
  cancel_count (self);
}
