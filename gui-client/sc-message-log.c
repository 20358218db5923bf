/* sc-message-log.c: the message log.
 *
 * Lines are not inserted one by one as they arrive: they wait in a queue
 * and an idle source moves a bounded batch into the buffer, trims the top
 * and scrolls once.  Because redrawing runs at a higher priority than
 * that idle, a flood of messages costs the window a few milliseconds per
 * frame instead of freezing it, and the queue itself never holds more
 * lines than the log may show, so memory stays bounded too.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "sc-message-log.h"

#define DEFAULT_MAX_LINES 5000
/* Each idle flush inserts lines for at most this long, so a backlog
 * costs the window short slices of time between frames. */
#define FLUSH_BUDGET_US 4000

typedef enum
{
  TAG_STAMP,
  TAG_SYSTEM,
  TAG_ERROR,
  TAG_RESPONSE_WHO,
  TAG_RESPONSE,
  TAG_INCOMING_WHO,
  TAG_SENT_WHO,
  TAG_STATE_PENDING,
  TAG_STATE_DELIVERED,
  TAG_STATE_FAILED,
  TAG_DIVIDER,
  TAG_MATCH,
  TAG_MATCH_CURRENT,
  TAG_HANG,
  TAG_TEXT, /* what was said: the only part of a line a search looks at */
  TAG_NOTE, /* a note's line: the log's own words, not a message */
  N_TAGS
} LogTag;

/* Tags whose colours come from tag_styles; the others are laid out. */
#define N_COLOR_TAGS TAG_MATCH

/* A message we sent, followed until every receipt is in.  Its line may
 * still wait in the queue (mark == NULL) or sit in the buffer, where
 * the left-gravity mark sits at the start of the state marker. */
typedef struct
{
  guint handle;
  guint64 message_id;
  GtkTextMark *mark;
  GList *link; /* in sent_order, once in the buffer */
  char *state;
  LogTag state_tag;
  guint expected;
  guint delivered;
  guint failed;
  char *last_failure; /* the reason of the latest failed receipt */
  gboolean finished;
} SentEntry;

typedef struct
{
  ScLogKind kind;
  gboolean divider;
  char *stamp;
  char *who;
  char *text;
  SentEntry *sent;
  char *state; /* a remembered sent message's final state, or NULL */
  gboolean state_failed;
  gboolean note; /* the log's own line (sc_message_log_prepend_note()) */
} LogLine;

struct _ScMessageLog
{
  GtkTextView parent_instance;

  guint max_lines;
  GQueue queue; /* LogLine*, not yet in the buffer */
  guint flush_source;
  GtkTextTag *tags[N_TAGS];
  GtkAdjustment *vadjustment;
  /* The user is at the bottom: keep showing new lines.  Changed only by
   * the user's scrolling, never by the view moving on its own. */
  gboolean follow;
  gboolean has_unseen; /* lines came while the user was scrolled up */
  guint pinning;       /* > 0 while this code moves the view */

  guint next_handle;
  GHashTable *sent_by_handle; /* handle -> SentEntry (owned) */
  GHashTable *sent_by_id;     /* message id -> SentEntry */
  GQueue sent_order;          /* SentEntry* in buffer order */

  /* "New messages" above the first unread line: queued, or in the
   * buffer at divider_mark, or neither. */
  LogLine *divider_line;
  GtkTextMark *divider_mark;

  /* Lines of history put above the others (sc_message_log_prepend_at()):
   * allowed beyond max_lines, and the first to go when new lines come. */
  guint n_older;

  /* Messages that have left the log from its top: trimmed, or dropped
   * from the queue before they were shown (sc_message_log_get_n_gone()). */
  guint64 n_gone;

  /* Search: what is looked for, and the match shown as current. */
  char *needle;
  GtkTextMark *match_mark;
};

enum
{
  PROP_0,
  PROP_MAX_LINES,
  PROP_HAS_UNSEEN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (ScMessageLog, sc_message_log, GTK_TYPE_TEXT_VIEW)

static void
sent_entry_free (SentEntry *entry)
{
  GtkTextBuffer *buffer =
    entry->mark ? gtk_text_mark_get_buffer (entry->mark) : NULL;

  if (buffer)
    gtk_text_buffer_delete_mark (buffer, entry->mark);
  g_free (entry->state);
  g_free (entry->last_failure);
  g_free (entry);
}

static void
log_line_free (LogLine *line)
{
  g_free (line->stamp);
  g_free (line->who);
  g_free (line->text);
  g_free (line->state);
  g_free (line);
}

/* Stops following @entry: it is finished, or its line is gone. */
static void
forget_sent (ScMessageLog *self, SentEntry *entry)
{
  if (entry->message_id != 0)
    g_hash_table_remove (self->sent_by_id, &entry->message_id);
  if (entry->link)
    g_queue_delete_link (&self->sent_order, entry->link);
  entry->link = NULL;
  g_hash_table_remove (self->sent_by_handle, GUINT_TO_POINTER (entry->handle));
}

static GtkTextBuffer *
get_buffer (ScMessageLog *self)
{
  return gtk_text_view_get_buffer (GTK_TEXT_VIEW (self));
}

/* ------------------------------------------------------------------ */
/* Moving queued lines into the buffer */

static LogTag
who_tag (ScLogKind kind)
{
  switch (kind)
    {
    case SC_LOG_RESPONSE: return TAG_RESPONSE_WHO;
    case SC_LOG_INCOMING: return TAG_INCOMING_WHO;
    case SC_LOG_ERROR: return TAG_ERROR;
    case SC_LOG_SYSTEM:
    default: return TAG_SYSTEM;
    }
}

static GtkTextTag *
text_tag (ScMessageLog *self, const LogLine *line)
{
  if (line->sent)
    return NULL;
  switch (line->kind)
    {
    case SC_LOG_RESPONSE: return self->tags[TAG_RESPONSE];
    case SC_LOG_ERROR: return self->tags[TAG_ERROR];
    case SC_LOG_SYSTEM: return self->tags[TAG_SYSTEM];
    case SC_LOG_INCOMING:
    default: return NULL;
    }
}

static void
insert_divider (ScMessageLog *self, GtkTextIter *end)
{
  GtkTextBuffer *buffer = get_buffer (self);

  self->divider_line = NULL;
  self->divider_mark = gtk_text_buffer_create_mark (buffer, NULL, end, TRUE);
  /* Translators: the divider above the first unread message. */
  gtk_text_buffer_insert_with_tags (buffer, end, _ ("New messages"), -1,
                                    self->tags[TAG_DIVIDER], NULL);
  gtk_text_buffer_insert (buffer, end, "\n", 1);
}

static void
insert_sent_state (ScMessageLog *self, GtkTextIter *end, SentEntry *entry)
{
  GtkTextBuffer *buffer = get_buffer (self);

  gtk_text_buffer_insert (buffer, end, "  ", 2);
  if (!entry->finished)
    {
      entry->mark = gtk_text_buffer_create_mark (buffer, NULL, end, TRUE);
      g_queue_push_tail (&self->sent_order, entry);
      entry->link = self->sent_order.tail;
    }
  gtk_text_buffer_insert_with_tags (buffer, end, entry->state, -1,
                                    self->tags[entry->state_tag], NULL);
  if (entry->finished)
    sent_entry_free (entry);
}

/* One message is one buffer line, its own line breaks being U+2028, so
 * the hanging indent puts every further line, wrapped or not, under
 * the text instead of under the time stamp. */
static void
insert_line (ScMessageLog *self, GtkTextIter *end, LogLine *line)
{
  GtkTextBuffer *buffer = get_buffer (self);
  SentEntry *entry = line->sent;
  int start_offset = gtk_text_iter_get_offset (end);
  GtkTextIter start;

  if (line->divider)
    {
      insert_divider (self, end);
      return;
    }
  gtk_text_buffer_insert_with_tags (buffer, end, line->stamp, -1,
                                    self->tags[TAG_STAMP], NULL);
  if (line->who)
    {
      GtkTextTag *tag = self->tags[entry ? TAG_SENT_WHO : who_tag (line->kind)];

      gtk_text_buffer_insert_with_tags (buffer, end, line->who, -1, tag, NULL);
      gtk_text_buffer_insert (buffer, end, " ", 1);
    }
  /* text_tag() may be NULL, which ends the list: it comes last. */
  gtk_text_buffer_insert_with_tags (buffer, end, line->text, -1,
                                    line->note ? self->tags[TAG_NOTE]
                                               : self->tags[TAG_TEXT],
                                    text_tag (self, line), NULL);
  if (entry)
    insert_sent_state (self, end, entry);
  else if (line->state)
    {
      gtk_text_buffer_insert (buffer, end, "  ", 2);
      gtk_text_buffer_insert_with_tags (
        buffer, end, line->state, -1,
        self->tags[line->state_failed ? TAG_STATE_FAILED : TAG_STATE_DELIVERED],
        NULL);
    }
  gtk_text_buffer_insert (buffer, end, "\n", 1);
  gtk_text_buffer_get_iter_at_offset (buffer, &start, start_offset);
  gtk_text_buffer_apply_tag (buffer, self->tags[TAG_HANG], &start, end);
  if (line->note)
    gtk_text_buffer_apply_tag (buffer, self->tags[TAG_NOTE], &start, end);
}

/* Whether the buffer line at @start is a message: not the unread
 * divider, not a note. */
static gboolean
is_message_line (ScMessageLog *self, const GtkTextIter *start)
{
  return !gtk_text_iter_has_tag (start, self->tags[TAG_DIVIDER]) &&
         !gtk_text_iter_has_tag (start, self->tags[TAG_NOTE]);
}

/* Counts the messages among the first @n_lines lines, about to go. */
static void
count_gone (ScMessageLog *self, int n_lines)
{
  GtkTextIter at;

  gtk_text_buffer_get_start_iter (get_buffer (self), &at);
  for (int i = 0; i < n_lines; i++)
    {
      if (is_message_line (self, &at))
        self->n_gone++;
      gtk_text_iter_forward_line (&at);
    }
}

/* Removes lines from the top until at most max_lines (plus the older
 * lines put above them) remain, forgetting the sent messages whose lines
 * go with them.  The older lines are at the top, so they go first: each
 * new line then takes one of theirs until none is left. */
static void
trim (ScMessageLog *self)
{
  GtkTextBuffer *buffer = get_buffer (self);
  int n_lines = gtk_text_buffer_get_line_count (buffer) - 1;
  int excess = n_lines - (int) (self->max_lines + self->n_older);
  GtkTextIter start, cut;

  if (excess <= 0)
    return;
  self->n_older -= MIN (self->n_older, (guint) excess);
  while (self->sent_order.head)
    {
      SentEntry *entry = self->sent_order.head->data;
      GtkTextIter at;

      gtk_text_buffer_get_iter_at_mark (buffer, &at, entry->mark);
      if (gtk_text_iter_get_line (&at) >= excess)
        break;
      forget_sent (self, entry);
    }
  if (self->divider_mark)
    {
      GtkTextIter at;

      gtk_text_buffer_get_iter_at_mark (buffer, &at, self->divider_mark);
      if (gtk_text_iter_get_line (&at) < excess)
        {
          gtk_text_buffer_delete_mark (buffer, self->divider_mark);
          self->divider_mark = NULL;
        }
    }
  count_gone (self, excess);
  gtk_text_buffer_get_start_iter (buffer, &start);
  gtk_text_buffer_get_iter_at_line (buffer, &cut, excess);
  gtk_text_buffer_delete (buffer, &start, &cut);
}

static void
set_has_unseen (ScMessageLog *self, gboolean has_unseen)
{
  if (self->has_unseen == has_unseen)
    return;
  self->has_unseen = has_unseen;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_UNSEEN]);
}

static void
set_scroll_value (ScMessageLog *self, double value)
{
  self->pinning++;
  gtk_adjustment_set_value (self->vadjustment, value);
  self->pinning--;
}

/* Inserts queued lines until the queue is empty or, when @budget_us is
 * positive, that much time has passed. */
static void
flush_some (ScMessageLog *self, gint64 budget_us)
{
  GtkTextBuffer *buffer = get_buffer (self);
  gint64 deadline = g_get_monotonic_time () + budget_us;
  GtkTextIter end;
  LogLine *line;
  guint n = 0;

  if (g_queue_is_empty (&self->queue))
    return;
  gtk_text_buffer_get_end_iter (buffer, &end);
  while ((line = g_queue_pop_head (&self->queue)) != NULL)
    {
      insert_line (self, &end, line);
      log_line_free (line);
      /* Reading the clock costs little next to an insertion. */
      if (budget_us > 0 && ++n % 8 == 0 && g_get_monotonic_time () >= deadline)
        break;
    }
  trim (self);
  /* One scroll request per batch, not per line. */
  if (self->follow)
    sc_message_log_scroll_to_end (self);
  else
    /* GtkTextView anchors its view to the paragraph at the top, so the
     * reader's place survives lines going from the top; only a reader
     * looking at those very lines sees the view move. */
    set_has_unseen (self, TRUE);
}

static gboolean
on_flush (gpointer data)
{
  ScMessageLog *self = data;

  flush_some (self, FLUSH_BUDGET_US);
  if (!g_queue_is_empty (&self->queue))
    return G_SOURCE_CONTINUE;
  self->flush_source = 0;
  return G_SOURCE_REMOVE;
}

static void
drop_line (ScMessageLog *self, LogLine *line)
{
  if (line == self->divider_line)
    self->divider_line = NULL;
  if (line->sent && line->sent->finished)
    sent_entry_free (line->sent);
  else if (line->sent)
    forget_sent (self, line->sent);
  log_line_free (line);
}

/* Drops the oldest queued line: too many came while the log was not
 * shown, or within one turn of the main loop.  It is newer than every
 * line in the buffer, so all of those must go too when the queue is
 * shown, older lines included, or the log would show a hole where it
 * was: they lose their allowance. */
static void
drop_oldest_queued (ScMessageLog *self)
{
  LogLine *line = g_queue_pop_head (&self->queue);

  if (!line->divider && !line->note)
    self->n_gone++;
  self->n_older = 0;
  drop_line (self, line);
}

/* Only a log on screen moves lines into its buffer: a conversation in
 * the background keeps at most max_lines queued, at the cost of a queue
 * push per line, and shows them when it is opened. */
static void
schedule_flush (ScMessageLog *self)
{
  if (self->flush_source == 0 && !g_queue_is_empty (&self->queue) &&
      gtk_widget_get_mapped (GTK_WIDGET (self)))
    self->flush_source =
      g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, on_flush, self, NULL);
}

static void
enqueue (ScMessageLog *self, LogLine *line)
{
  g_queue_push_tail (&self->queue, line);
  /* Lines beyond the cap would be trimmed as soon as they were shown. */
  while (self->queue.length > self->max_lines)
    drop_oldest_queued (self);
  schedule_flush (self);
}

/* "[14:05:09] " today, with the date before today.  The CLI prints
 * the same stamps (sc-cli-output.c). */
static char *
format_stamp (gint64 time_us)
{
  g_autoptr (GDateTime) when =
    g_date_time_new_from_unix_local (time_us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    return g_date_time_format (when, "[%H:%M:%S] ");
  return g_date_time_format (when, "[%Y-%m-%d %H:%M:%S] ");
}

/* The text with its line breaks as U+2028: see insert_line(). */
static char *
one_paragraph (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p; p++)
    {
      if (*p == '\r' && p[1] == '\n')
        continue;
      if (*p == '\n' || *p == '\r')
        g_string_append (out, "\xe2\x80\xa8");
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

/* Right-to-left letters, or the controls that set a direction. */
static gboolean
is_bidi_sensitive (gunichar c)
{
  return (c >= 0x0590 && c <= 0x08FF) || (c >= 0xFB1D && c <= 0xFDFF) ||
         (c >= 0xFE70 && c <= 0xFEFF) || (c >= 0x10800 && c <= 0x10FFF) ||
         (c >= 0x1E800 && c <= 0x1EFFF) || c == 0x200E || c == 0x200F ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* Text that could change the direction of what follows it on the line
 * (a name, the delivery state) is put in a first-strong isolate,
 * U+2068 ... U+2069: Pango's bidi algorithm then lays it out on its
 * own, and an unclosed U+202E inside ends at the U+2069.  Other text is
 * left as it is. */
static char *
isolate_bidi (char *text)
{
  char *isolated;

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (is_bidi_sensitive (g_utf8_get_char (p)))
      {
        isolated = g_strconcat ("\xe2\x81\xa8", text, "\xe2\x81\xa9", NULL);
        g_free (text);
        return isolated;
      }
  return text;
}

static LogLine *
new_line_at (ScLogKind kind, const char *who, const char *text, gint64 time_us)
{
  LogLine *line = g_new0 (LogLine, 1);

  line->kind = kind;
  line->stamp = format_stamp (time_us);
  line->who = who ? isolate_bidi (g_strdup (who)) : NULL;
  line->text = isolate_bidi (one_paragraph (text));
  return line;
}

static LogLine *
new_line (ScLogKind kind, const char *who, const char *text)
{
  return new_line_at (kind, who, text, g_get_real_time ());
}

/**
 * sc_message_log_append_at:
 * @time_us: when it happened, in real time (for lines from history)
 * @state: (nullable): a sent message's state, shown after the text,
 *   styled as a failure when @failed
 *
 * Queues one line stamped with @time_us.
 */
void
sc_message_log_append_at (ScMessageLog *self,
                          ScLogKind kind,
                          const char *who,
                          const char *text,
                          gint64 time_us,
                          const char *state,
                          gboolean failed)
{
  LogLine *line;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  g_return_if_fail (text != NULL);

  line = new_line_at (kind, who, text, time_us);
  line->state = g_strdup (state);
  line->state_failed = failed;
  enqueue (self, line);
}

/* ------------------------------------------------------------------ */
/* Older lines, put above the others */

/* How many more lines sc_message_log_prepend_at() takes.  The older
 * lines are at most max_lines, so that the log never holds more than
 * twice its limit. */
guint
sc_message_log_get_older_room (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  return self->max_lines - MIN (self->max_lines, self->n_older);
}

/* Puts @line (freed here) above every other, or frees it when there is
 * no room left. */
static gboolean
prepend_line (ScMessageLog *self, LogLine *line)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter start, divider;
  gboolean divider_at_start = FALSE;

  if (sc_message_log_get_older_room (self) == 0)
    {
      log_line_free (line);
      return FALSE;
    }
  gtk_text_buffer_get_start_iter (buffer, &start);
  /* The divider's mark has left gravity: at the very start it would stay
   * above the new line instead of going down with the line it marks. */
  if (self->divider_mark)
    {
      gtk_text_buffer_get_iter_at_mark (buffer, &divider, self->divider_mark);
      divider_at_start = gtk_text_iter_is_start (&divider);
    }
  insert_line (self, &start, line);
  log_line_free (line);
  if (divider_at_start)
    gtk_text_buffer_move_mark (buffer, self->divider_mark, &start);
  self->n_older++;
  return TRUE;
}

/**
 * sc_message_log_prepend_at:
 *
 * Puts one line above every other at once, as sc_message_log_append_at()
 * would show it; for lines from further back in history.  Call it newest
 * first.  FALSE, doing nothing, when there is no room left
 * (sc_message_log_get_older_room()).
 */
gboolean
sc_message_log_prepend_at (ScMessageLog *self,
                           ScLogKind kind,
                           const char *who,
                           const char *text,
                           gint64 time_us,
                           const char *state,
                           gboolean failed)
{
  LogLine *line;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  line = new_line_at (kind, who, text, time_us);
  line->state = g_strdup (state);
  line->state_failed = failed;
  return prepend_line (self, line);
}

/**
 * sc_message_log_prepend_note:
 *
 * Puts a system line of the log's own above every other, as
 * sc_message_log_prepend_at() does: one that says something about the
 * messages, such as what is left out between them, and is not one.
 * Searches do not look at it.
 */
gboolean
sc_message_log_prepend_note (ScMessageLog *self,
                             const char *text,
                             gint64 time_us)
{
  LogLine *line;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  line = new_line_at (SC_LOG_SYSTEM, NULL, text, time_us);
  line->note = TRUE;
  return prepend_line (self, line);
}

/* Takes the older lines away again. */
void
sc_message_log_drop_older (ScMessageLog *self)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter start, cut;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  if (self->n_older == 0)
    return;
  gtk_text_buffer_get_start_iter (buffer, &start);
  gtk_text_buffer_get_iter_at_line (buffer, &cut, (int) self->n_older);
  gtk_text_buffer_delete (buffer, &start, &cut);
  self->n_older = 0;
}

/* ------------------------------------------------------------------ */
/* The unread divider */

/* Puts "New messages" before the next line, unless it is there already. */
void
sc_message_log_mark_unread (ScMessageLog *self)
{
  LogLine *line;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  if (self->divider_line || self->divider_mark)
    return;
  line = g_new0 (LogLine, 1);
  line->divider = TRUE;
  self->divider_line = line;
  enqueue (self, line);
}

/* Takes the divider away: what was below it has been read. */
void
sc_message_log_clear_unread_mark (ScMessageLog *self)
{
  GtkTextBuffer *buffer = get_buffer (self);

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  if (self->divider_line)
    {
      g_queue_remove (&self->queue, self->divider_line);
      log_line_free (self->divider_line);
      self->divider_line = NULL;
    }
  if (self->divider_mark)
    {
      GtkTextIter start, end;

      gtk_text_buffer_get_iter_at_mark (buffer, &start, self->divider_mark);
      end = start;
      gtk_text_iter_forward_line (&end);
      gtk_text_buffer_delete (buffer, &start, &end);
      gtk_text_buffer_delete_mark (buffer, self->divider_mark);
      self->divider_mark = NULL;
    }
}

gboolean
sc_message_log_get_has_unread_mark (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), FALSE);
  return self->divider_line != NULL || self->divider_mark != NULL;
}

/**
 * sc_message_log_append:
 * @who: (nullable): the sender or subject, styled by @kind
 *
 * Queues one line; it shows up at the next idle.
 */
void
sc_message_log_append (ScMessageLog *self,
                       ScLogKind kind,
                       const char *who,
                       const char *text)
{
  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  g_return_if_fail (text != NULL);

  enqueue (self, new_line (kind, who, text));
}

/* ------------------------------------------------------------------ */
/* Delivery state of sent messages */

static void
set_state (ScMessageLog *self, SentEntry *entry, LogTag tag, char *state)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter start, end;

  g_free (entry->state);
  entry->state = state;
  entry->state_tag = tag;
  if (entry->mark == NULL)
    return; /* still queued: the new state is shown when it is inserted */
  gtk_text_buffer_get_iter_at_mark (buffer, &start, entry->mark);
  end = start;
  if (!gtk_text_iter_ends_line (&end))
    gtk_text_iter_forward_to_line_end (&end);
  gtk_text_buffer_delete (buffer, &start, &end);
  gtk_text_buffer_get_iter_at_mark (buffer, &start, entry->mark);
  gtk_text_buffer_insert_with_tags (buffer, &start, state, -1, self->tags[tag],
                                    NULL);
}

/* The final state is written; the entry goes now if its line is in the
 * buffer, or when the queued line is inserted. */
static void
finish (ScMessageLog *self, SentEntry *entry)
{
  gboolean in_buffer = entry->mark != NULL;

  entry->finished = TRUE;
  if (in_buffer)
    forget_sent (self, entry);
  else
    {
      if (entry->message_id != 0)
        g_hash_table_remove (self->sent_by_id, &entry->message_id);
      g_hash_table_steal (self->sent_by_handle,
                          GUINT_TO_POINTER (entry->handle));
    }
}

/* Returns a handle for sc_message_log_sent_accepted() and
 * sc_message_log_sent_failed(). */
guint
sc_message_log_append_sent (ScMessageLog *self,
                            const char *to,
                            const char *text)
{
  LogLine *line;
  SentEntry *entry;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  g_return_val_if_fail (to != NULL && text != NULL, 0);

  entry = g_new0 (SentEntry, 1);
  entry->handle = ++self->next_handle;
  entry->state = g_strdup (_ ("sending…"));
  entry->state_tag = TAG_STATE_PENDING;
  g_hash_table_insert (self->sent_by_handle, GUINT_TO_POINTER (entry->handle),
                       entry);
  line = new_line (SC_LOG_INCOMING, to, text);
  line->sent = entry;
  enqueue (self, line);
  return entry->handle;
}

static char *
describe_progress (const SentEntry *entry)
{
  if (entry->expected == 1 && entry->failed == 0)
    return g_strdup (_ ("accepted"));
  /* Translators: a broadcast's progress: delivered to 2 of 3 clients. */
  return g_strdup_printf (_ ("delivered %u/%u"), entry->delivered,
                          entry->expected);
}

/* Records the server's message id; @n_recipients receipts will follow. */
void
sc_message_log_sent_accepted (ScMessageLog *self,
                              guint handle,
                              guint64 message_id,
                              guint n_recipients)
{
  SentEntry *entry;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  entry = g_hash_table_lookup (self->sent_by_handle, GUINT_TO_POINTER (handle));
  if (entry == NULL)
    return; /* its line was trimmed away */
  if (n_recipients == 0)
    {
      set_state (self, entry, TAG_STATE_FAILED,
                 g_strdup (_ ("no other clients to deliver to")));
      finish (self, entry);
      return;
    }
  entry->message_id = message_id;
  entry->expected = n_recipients;
  g_hash_table_insert (self->sent_by_id, &entry->message_id, entry);
  set_state (self, entry, TAG_STATE_PENDING, describe_progress (entry));
}

void
sc_message_log_sent_failed (ScMessageLog *self,
                            guint handle,
                            const char *reason)
{
  SentEntry *entry;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  entry = g_hash_table_lookup (self->sent_by_handle, GUINT_TO_POINTER (handle));
  if (entry == NULL)
    return;
  /* Translators: the state of a sent message that did not arrive. */
  set_state (self, entry, TAG_STATE_FAILED,
             g_strdup_printf (_ ("failed: %s"), reason));
  finish (self, entry);
}

/* One recipient's receipt for a message we sent. */
void
sc_message_log_receipt (ScMessageLog *self,
                        guint64 message_id,
                        gboolean delivered,
                        const char *reason)
{
  SentEntry *entry;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  entry = g_hash_table_lookup (self->sent_by_id, &message_id);
  if (entry == NULL)
    return;
  if (delivered)
    entry->delivered++;
  else
    {
      entry->failed++;
      g_free (entry->last_failure);
      entry->last_failure = g_strdup (reason ? reason : "");
    }
  if (entry->delivered + entry->failed < entry->expected)
    set_state (self, entry, TAG_STATE_PENDING, describe_progress (entry));
  else if (entry->failed == 0)
    set_state (self, entry, TAG_STATE_DELIVERED,
               entry->expected == 1
                 ? g_strdup (_ ("delivered"))
                 : g_strdup_printf (_ ("delivered to %u"), entry->delivered));
  else if (entry->expected == 1)
    set_state (self, entry, TAG_STATE_FAILED,
               g_strdup_printf (_ ("failed: %s"), entry->last_failure));
  else
    set_state (self, entry, TAG_STATE_FAILED,
               g_strdup_printf (_ ("delivered %u/%u, last failure: %s"),
                                entry->delivered, entry->expected,
                                entry->last_failure));
  if (entry->delivered + entry->failed >= entry->expected)
    finish (self, entry);
}

/* Ends every sent message still waiting for its acceptance or receipts
 * with @reason: after a disconnect they will never come, and "accepted"
 * left on screen forever would say the opposite. */
void
sc_message_log_abandon_pending (ScMessageLog *self, const char *reason)
{
  g_autoptr (GList) entries = NULL;

  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  g_return_if_fail (reason != NULL);

  entries = g_hash_table_get_values (self->sent_by_handle);
  for (GList *l = entries; l; l = l->next)
    {
      SentEntry *entry = l->data;

      set_state (self, entry, TAG_STATE_FAILED, g_strdup (reason));
      finish (self, entry);
    }
}

/* ------------------------------------------------------------------ */
/* Searching */

#define SEARCH_FLAGS \
  (GTK_TEXT_SEARCH_CASE_INSENSITIVE | GTK_TEXT_SEARCH_TEXT_ONLY)

static void
clear_matches (ScMessageLog *self)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  gtk_text_buffer_remove_tag (buffer, self->tags[TAG_MATCH], &start, &end);
  gtk_text_buffer_remove_tag (buffer, self->tags[TAG_MATCH_CURRENT], &start,
                              &end);
  if (self->match_mark)
    gtk_text_buffer_delete_mark (buffer, self->match_mark);
  self->match_mark = NULL;
}

/* Matches lie inside the text of a line, never in its time stamp, the
 * name before it or the delivery state after it: those are the log's
 * own words, and history, which counts the older matches, holds only
 * the text (see sc-window-search.c).  Both find the next match from
 * the end of the last one. */
static gboolean
find_forward (ScMessageLog *self,
              const GtkTextIter *from,
              GtkTextIter *match_start,
              GtkTextIter *match_end)
{
  GtkTextTag *text = self->tags[TAG_TEXT];
  GtkTextIter at = *from, limit;

  for (;;)
    {
      if (!gtk_text_iter_has_tag (&at, text) &&
          !gtk_text_iter_forward_to_tag_toggle (&at, text))
        return FALSE;
      limit = at;
      gtk_text_iter_forward_to_tag_toggle (&limit, text);
      if (gtk_text_iter_forward_search (&at, self->needle, SEARCH_FLAGS,
                                        match_start, match_end, &limit))
        return TRUE;
      at = limit;
    }
}

/* The last match that ends before @from. */
static gboolean
find_backward (ScMessageLog *self,
               const GtkTextIter *from,
               GtkTextIter *match_start,
               GtkTextIter *match_end)
{
  GtkTextTag *text = self->tags[TAG_TEXT];
  GtkTextIter at = *from, limit;

  for (;;)
    {
      if (!gtk_text_iter_has_tag (&at, text) &&
          !gtk_text_iter_ends_tag (&at, text) &&
          !gtk_text_iter_backward_to_tag_toggle (&at, text))
        return FALSE;
      limit = at;
      if (!gtk_text_iter_starts_tag (&limit, text))
        gtk_text_iter_backward_to_tag_toggle (&limit, text);
      if (gtk_text_iter_backward_search (&at, self->needle, SEARCH_FLAGS,
                                         match_start, match_end, &limit))
        return TRUE;
      at = limit;
      if (!gtk_text_iter_backward_char (&at))
        return FALSE;
    }
}

/* Makes the match at @start..@end the current one and shows it; the
 * reader is then looking back, so new lines no longer pull the view. */
static void
show_match (ScMessageLog *self, GtkTextIter *start, GtkTextIter *end)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter all_start, all_end;

  gtk_text_buffer_get_bounds (buffer, &all_start, &all_end);
  gtk_text_buffer_remove_tag (buffer, self->tags[TAG_MATCH_CURRENT], &all_start,
                              &all_end);
  gtk_text_buffer_apply_tag (buffer, self->tags[TAG_MATCH_CURRENT], start, end);
  if (self->match_mark == NULL)
    self->match_mark = gtk_text_buffer_create_mark (buffer, NULL, start, TRUE);
  else
    gtk_text_buffer_move_mark (buffer, self->match_mark, start);
  self->follow = FALSE;
  gtk_text_view_scroll_to_mark (GTK_TEXT_VIEW (self), self->match_mark, 0.1,
                                FALSE, 0, 0);
}

/**
 * sc_message_log_search:
 * @needle: (nullable): what to look for; NULL or "" ends the search
 *
 * Highlights every occurrence of @needle (case aside) in the text of
 * the lines, not in their time stamps or names, and shows the newest.
 * Returns how many there are.
 */
guint
sc_message_log_search (ScMessageLog *self, const char *needle)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter at, match_start, match_end, last_start, last_end;
  guint n = 0;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  sc_message_log_flush (self);
  clear_matches (self);
  g_free (self->needle);
  self->needle = needle && *needle ? g_strdup (needle) : NULL;
  if (self->needle == NULL)
    return 0;
  gtk_text_buffer_get_start_iter (buffer, &at);
  while (find_forward (self, &at, &match_start, &match_end))
    {
      gtk_text_buffer_apply_tag (buffer, self->tags[TAG_MATCH], &match_start,
                                 &match_end);
      last_start = match_start;
      last_end = match_end;
      at = match_end;
      n++;
    }
  if (n > 0)
    show_match (self, &last_start, &last_end);
  return n;
}

/* Moves to the previous (older) or next match; FALSE when there is none. */
gboolean
sc_message_log_search_step (ScMessageLog *self, gboolean older)
{
  GtkTextBuffer *buffer = get_buffer (self);
  GtkTextIter at, match_start, match_end;
  gboolean found;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), FALSE);
  if (self->needle == NULL || self->match_mark == NULL)
    return FALSE;
  gtk_text_buffer_get_iter_at_mark (buffer, &at, self->match_mark);
  if (older)
    found = find_backward (self, &at, &match_start, &match_end);
  else
    {
      gtk_text_iter_forward_char (&at);
      found = find_forward (self, &at, &match_start, &match_end);
    }
  if (found)
    show_match (self, &match_start, &match_end);
  return found;
}

/* Makes the oldest match the current one; FALSE when there is none. */
gboolean
sc_message_log_search_show_oldest (ScMessageLog *self)
{
  GtkTextIter at, match_start, match_end;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), FALSE);
  if (self->needle == NULL)
    return FALSE;
  gtk_text_buffer_get_start_iter (get_buffer (self), &at);
  if (!find_forward (self, &at, &match_start, &match_end))
    return FALSE;
  show_match (self, &match_start, &match_end);
  /* Lines just put above keep estimated heights until laid out, and a
   * deferred scroll to the first of them lands a line or two short: the
   * top is a place the adjustment knows now. */
  if (gtk_text_iter_get_line (&match_start) == 0 && self->vadjustment)
    set_scroll_value (self, gtk_adjustment_get_lower (self->vadjustment));
  return TRUE;
}

/* The current match's line, for tests; -1 without one. */
int
sc_message_log_get_match_line (ScMessageLog *self)
{
  GtkTextIter at;

  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), -1);
  if (self->needle == NULL || self->match_mark == NULL)
    return -1;
  gtk_text_buffer_get_iter_at_mark (get_buffer (self), &at, self->match_mark);
  return gtk_text_iter_get_line (&at);
}

/* ------------------------------------------------------------------ */
/* Size, scrolling and boilerplate */

/* Moves every queued line into the buffer now. */
void
sc_message_log_flush (ScMessageLog *self)
{
  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  flush_some (self, 0);
  g_clear_handle_id (&self->flush_source, g_source_remove);
}

/* Lines waiting to be moved into the buffer. */
guint
sc_message_log_get_n_queued (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  return self->queue.length;
}

/**
 * sc_message_log_get_n_gone:
 *
 * How many messages have left the log from its top since it was made:
 * trimmed from the buffer, or dropped from the queue before they were
 * shown.  The unread divider and notes do not count, nor the lines that
 * sc_message_log_drop_older() takes away.  Once the log is flushed, the
 * messages it shows are the ones that came after those.
 */
guint64
sc_message_log_get_n_gone (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  return self->n_gone;
}

guint
sc_message_log_get_n_lines (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  return (guint) gtk_text_buffer_get_line_count (get_buffer (self)) - 1;
}

guint
sc_message_log_get_max_lines (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), 0);
  return self->max_lines;
}

void
sc_message_log_set_max_lines (ScMessageLog *self, guint max_lines)
{
  g_return_if_fail (SC_IS_MESSAGE_LOG (self));
  g_return_if_fail (max_lines > 0);

  if (self->max_lines == max_lines)
    return;
  self->max_lines = max_lines;
  while (self->queue.length > self->max_lines)
    drop_oldest_queued (self);
  trim (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_LINES]);
}

/* Shows the last line and follows new ones again. */
void
sc_message_log_scroll_to_end (ScMessageLog *self)
{
  g_return_if_fail (SC_IS_MESSAGE_LOG (self));

  self->follow = TRUE;
  set_has_unseen (self, FALSE);
  /* Only the adjustment, at once: gtk_text_view_scroll_to_mark() may
   * defer the scroll until the lines are laid out, and a deferred scroll
   * would pull down a reader who scrolled up meanwhile.  As the new
   * lines are measured, the adjustment's upper bound grows and
   * on_adjustment_changed() keeps a following view at the end. */
  if (self->vadjustment)
    set_scroll_value (self, gtk_adjustment_get_upper (self->vadjustment) -
                              gtk_adjustment_get_page_size (self->vadjustment));
}

gboolean
sc_message_log_get_has_unseen (ScMessageLog *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), FALSE);
  return self->has_unseen;
}

static gboolean
at_bottom (GtkAdjustment *adjustment)
{
  double bottom = gtk_adjustment_get_upper (adjustment) -
                  gtk_adjustment_get_page_size (adjustment);

  /* A little slack: line heights are estimates until validated. */
  return gtk_adjustment_get_value (adjustment) >= bottom - 24;
}

/* The size or the content's height changed (new lines validated, the
 * info bar taking room): a following view stays at the end. */
static void
on_adjustment_changed (ScMessageLog *self, GtkAdjustment *adjustment)
{
  if (self->follow && !at_bottom (adjustment))
    set_scroll_value (self, gtk_adjustment_get_upper (adjustment) -
                              gtk_adjustment_get_page_size (adjustment));
}

/* Only scrolling decides whether to follow: a value set here, or one
 * the view takes while it relays itself out under a following reader,
 * does not. */
static void
on_value_changed (ScMessageLog *self, GtkAdjustment *adjustment)
{
  if (self->pinning > 0)
    return;
  if (self->follow && gtk_adjustment_get_upper (adjustment) <=
                        gtk_adjustment_get_page_size (adjustment))
    return;
  self->follow = at_bottom (adjustment);
  if (self->follow)
    set_has_unseen (self, FALSE);
}

static void
on_vadjustment_set (ScMessageLog *self, GParamSpec *pspec, gpointer unused)
{
  GtkAdjustment *adjustment =
    gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self));

  if (self->vadjustment)
    g_signal_handlers_disconnect_by_data (self->vadjustment, self);
  g_set_object (&self->vadjustment, adjustment);
  if (adjustment)
    {
      g_signal_connect_object (adjustment, "value-changed",
                               G_CALLBACK (on_value_changed), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (adjustment, "changed",
                               G_CALLBACK (on_adjustment_changed), self,
                               G_CONNECT_SWAPPED);
    }
}

GtkWidget *
sc_message_log_new (void)
{
  return g_object_new (SC_TYPE_MESSAGE_LOG, NULL);
}

static void
free_queued_line (gpointer data)
{
  LogLine *line = data;

  /* Entries of queued lines have no mark; the tables free the others. */
  if (line->sent && line->sent->finished)
    sent_entry_free (line->sent);
  log_line_free (line);
}

static void
sc_message_log_dispose (GObject *object)
{
  ScMessageLog *self = SC_MESSAGE_LOG (object);

  g_clear_handle_id (&self->flush_source, g_source_remove);
  if (self->vadjustment)
    g_signal_handlers_disconnect_by_data (self->vadjustment, self);
  g_clear_object (&self->vadjustment);
  /* While the buffer still exists, so the marks can be deleted. */
  g_queue_clear_full (&self->queue, free_queued_line);
  g_queue_clear (&self->sent_order);
  g_hash_table_remove_all (self->sent_by_id);
  g_hash_table_remove_all (self->sent_by_handle);
  /* The tags go with the buffer; a theme change after this (the log may
   * outlive its window while something holds a reference) must not
   * reach them. */
  if (gtk_settings_get_default ())
    g_signal_handlers_disconnect_by_data (gtk_settings_get_default (), self);
  memset (self->tags, 0, sizeof self->tags);
  G_OBJECT_CLASS (sc_message_log_parent_class)->dispose (object);
}

static void
sc_message_log_finalize (GObject *object)
{
  ScMessageLog *self = SC_MESSAGE_LOG (object);

  g_hash_table_unref (self->sent_by_id);
  g_hash_table_unref (self->sent_by_handle);
  g_free (self->needle);
  G_OBJECT_CLASS (sc_message_log_parent_class)->finalize (object);
}

static void
sc_message_log_get_property (GObject *object,
                             guint prop_id,
                             GValue *value,
                             GParamSpec *pspec)
{
  ScMessageLog *self = SC_MESSAGE_LOG (object);

  switch (prop_id)
    {
    case PROP_MAX_LINES: g_value_set_uint (value, self->max_lines); break;
    case PROP_HAS_UNSEEN: g_value_set_boolean (value, self->has_unseen); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_message_log_set_property (GObject *object,
                             guint prop_id,
                             const GValue *value,
                             GParamSpec *pspec)
{
  ScMessageLog *self = SC_MESSAGE_LOG (object);

  switch (prop_id)
    {
    case PROP_MAX_LINES:
      sc_message_log_set_max_lines (self, g_value_get_uint (value));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void sc_message_log_style_updated (GtkWidget *widget);

static void
sc_message_log_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (sc_message_log_parent_class)->map (widget);
  schedule_flush (SC_MESSAGE_LOG (widget));
}

static void
sc_message_log_class_init (ScMessageLogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sc_message_log_dispose;
  object_class->finalize = sc_message_log_finalize;
  object_class->get_property = sc_message_log_get_property;
  object_class->set_property = sc_message_log_set_property;
  GTK_WIDGET_CLASS (klass)->style_updated = sc_message_log_style_updated;
  GTK_WIDGET_CLASS (klass)->map = sc_message_log_map;

  properties[PROP_MAX_LINES] = g_param_spec_uint (
    "max-lines", NULL, NULL, 1, G_MAXUINT, DEFAULT_MAX_LINES,
    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /* Lines came while the reader was scrolled up; scrolling to the end,
   * or sc_message_log_scroll_to_end(), clears it. */
  properties[PROP_HAS_UNSEEN] = g_param_spec_boolean (
    "has-unseen", NULL, NULL, FALSE,
    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/* Each tag's colour, for a light and for a dark background.  The
 * theme decides which applies, and adjust_contrast() makes sure of
 * WCAG's 4.5:1 against the theme's actual background. */
static const struct
{
  const char *name;
  const char *light;
  const char *dark;
  gboolean bold;
  gboolean italic;
} tag_styles[N_COLOR_TAGS] = {
  [TAG_STAMP] = { "stamp", "#5e5c64", "#c0bfbc", FALSE, FALSE },
  [TAG_SYSTEM] = { "system", "#5e5c64", "#c0bfbc", FALSE, TRUE },
  [TAG_ERROR] = { "error", "#c01c28", "#ff7b63", FALSE, FALSE },
  [TAG_RESPONSE_WHO] = { "response-who", "#1a5fb4", "#99c1f1", TRUE, FALSE },
  [TAG_RESPONSE] = { "response", "#1a5fb4", "#99c1f1", FALSE, FALSE },
  [TAG_INCOMING_WHO] = { "incoming-who", "#1c7a4a", "#8ff0a4", TRUE, FALSE },
  [TAG_SENT_WHO] = { "sent-who", "#a13c00", "#ffbe6f", TRUE, FALSE },
  [TAG_STATE_PENDING] = { "state-pending", "#5e5c64", "#c0bfbc", FALSE, TRUE },
  [TAG_STATE_DELIVERED] = { "state-delivered", "#1c7a4a", "#8ff0a4", TRUE,
                            FALSE },
  [TAG_STATE_FAILED] = { "state-failed", "#c01c28", "#ff7b63", TRUE, FALSE },
  [TAG_DIVIDER] = { "divider", "#a51d2d", "#ff7b63", TRUE, FALSE },
};

#define MIN_CONTRAST 4.5

static double
channel_luminance (double c)
{
  return c <= 0.03928 ? c / 12.92 : pow ((c + 0.055) / 1.055, 2.4);
}

/* WCAG 2 relative luminance. */
double
sc_message_log_luminance (const GdkRGBA *color)
{
  return 0.2126 * channel_luminance (color->red) +
         0.7152 * channel_luminance (color->green) +
         0.0722 * channel_luminance (color->blue);
}

double
sc_message_log_contrast (const GdkRGBA *a, const GdkRGBA *b)
{
  double la = sc_message_log_luminance (a);
  double lb = sc_message_log_luminance (b);

  return (MAX (la, lb) + 0.05) / (MIN (la, lb) + 0.05);
}

/* Moves @color towards @text (the theme's text colour, which contrasts
 * with its background) until it reads well on @background. */
static void
adjust_contrast (GdkRGBA *color, const GdkRGBA *text, const GdkRGBA *background)
{
  for (guint step = 0; step < 10 && sc_message_log_contrast (
                                      color, background) < MIN_CONTRAST + 0.05;
       step++)
    {
      color->red += (text->red - color->red) * 0.25;
      color->green += (text->green - color->green) * 0.25;
      color->blue += (text->blue - color->blue) * 0.25;
    }
}

static void
lookup_theme_color (GtkStyleContext *context,
                    const char *name,
                    const char *fallback,
                    GdkRGBA *color)
{
  if (!gtk_style_context_lookup_color (context, name, color))
    gdk_rgba_parse (color, fallback);
}

/* Colours the tags for the current theme; runs again whenever the
 * theme or its dark variant changes. */
static void
update_tag_colors (ScMessageLog *self)
{
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  GdkRGBA background, text;
  gboolean dark;

  if (self->tags[0] == NULL)
    return; /* disposed */
  lookup_theme_color (context, "theme_base_color", "#ffffff", &background);
  lookup_theme_color (context, "theme_text_color", "#000000", &text);
  dark = sc_message_log_luminance (&background) < 0.2;
  for (guint i = 0; i < N_COLOR_TAGS; i++)
    {
      GdkRGBA color;

      gdk_rgba_parse (&color, dark ? tag_styles[i].dark : tag_styles[i].light);
      adjust_contrast (&color, &text, &background);
      g_object_set (self->tags[i], "foreground-rgba", &color, NULL);
    }
}

/* Continuation lines start under the text: as far in as a time stamp
 * is wide in the log's font. */
static void
update_hanging_indent (ScMessageLog *self)
{
  g_autoptr (PangoLayout) layout = NULL;
  int width;

  if (self->tags[TAG_HANG] == NULL)
    return; /* disposed */
  layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), "[00:00:00] ");
  pango_layout_get_pixel_size (layout, &width, NULL);
  /* Pango's negative indent: the first line is not indented, the
   * others are by -indent. */
  g_object_set (self->tags[TAG_HANG], "indent", -width, NULL);
}

/* Search matches keep dark text on a light highlight in either theme. */
static void
create_match_tags (ScMessageLog *self, GtkTextBuffer *buffer)
{
  self->tags[TAG_MATCH] = gtk_text_buffer_create_tag (
    buffer, "match", "background", "#f8e45c", "foreground", "#000000", NULL);
  self->tags[TAG_MATCH_CURRENT] =
    gtk_text_buffer_create_tag (buffer, "match-current", "background",
                                "#ffa348", "foreground", "#000000", NULL);
}

static void
create_tags (ScMessageLog *self, GtkTextBuffer *buffer)
{
  for (guint i = 0; i < N_COLOR_TAGS; i++)
    self->tags[i] = gtk_text_buffer_create_tag (
      buffer, tag_styles[i].name, "weight",
      tag_styles[i].bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL, "style",
      tag_styles[i].italic ? PANGO_STYLE_ITALIC : PANGO_STYLE_NORMAL, NULL);
  g_object_set (self->tags[TAG_DIVIDER], "justification", GTK_JUSTIFY_CENTER,
                NULL);
  self->tags[TAG_HANG] = gtk_text_buffer_create_tag (buffer, "hang", NULL);
  self->tags[TAG_TEXT] = gtk_text_buffer_create_tag (buffer, "text", NULL);
  self->tags[TAG_NOTE] = gtk_text_buffer_create_tag (buffer, "note", NULL);
  /* Made last, so they win over the colours: a match shows inside
   * coloured text (an answer's, an error's). */
  create_match_tags (self, buffer);
  update_tag_colors (self);
  update_hanging_indent (self);
}

static void
sc_message_log_style_updated (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (sc_message_log_parent_class)->style_updated (widget);
  update_tag_colors (SC_MESSAGE_LOG (widget));
  update_hanging_indent (SC_MESSAGE_LOG (widget));
}

/* Switching to the dark variant reloads the theme without always
 * telling every widget that its style changed; GtkSettings reloads the
 * theme in its own notify handler, which runs before this one. */
static void
on_theme_changed (ScMessageLog *self, GParamSpec *pspec, GtkSettings *settings)
{
  update_tag_colors (self);
}

/* The log's tags by index, for the contrast test. */
GtkTextTag *
sc_message_log_get_tag (ScMessageLog *self, guint index)
{
  g_return_val_if_fail (SC_IS_MESSAGE_LOG (self), NULL);
  g_return_val_if_fail (index < N_COLOR_TAGS, NULL);
  return self->tags[index];
}

guint
sc_message_log_get_n_tags (ScMessageLog *self)
{
  return N_COLOR_TAGS;
}

static void
sc_message_log_init (ScMessageLog *self)
{
  GtkTextView *view = GTK_TEXT_VIEW (self);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);

  self->max_lines = DEFAULT_MAX_LINES;
  self->follow = TRUE;
  g_queue_init (&self->queue);
  g_queue_init (&self->sent_order);
  self->sent_by_handle =
    g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) sent_entry_free);
  self->sent_by_id = g_hash_table_new (g_int64_hash, g_int64_equal);

  gtk_text_view_set_editable (view, FALSE);
  gtk_text_view_set_cursor_visible (view, FALSE);
  gtk_text_view_set_wrap_mode (view, GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_left_margin (view, 6);
  gtk_text_view_set_right_margin (view, 6);
  gtk_text_view_set_top_margin (view, 4);
  gtk_text_view_set_bottom_margin (view, 4);
  gtk_style_context_add_class (gtk_widget_get_style_context (GTK_WIDGET (self)),
                               "sc-log");
  create_tags (self, buffer);
  g_signal_connect (self, "notify::vadjustment",
                    G_CALLBACK (on_vadjustment_set), NULL);
  if (gtk_settings_get_default ())
    {
      g_signal_connect_object (
        gtk_settings_get_default (), "notify::gtk-theme-name",
        G_CALLBACK (on_theme_changed), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (gtk_settings_get_default (),
                               "notify::gtk-application-prefer-dark-theme",
                               G_CALLBACK (on_theme_changed), self,
                               G_CONNECT_SWAPPED);
    }
}
