/* test-message-log.c: the message log's sent-message state machine,
 * widget only: no server, no socket, no window.  Each test drives
 * ScMessageLog through the calls the window makes (sent, accepted,
 * failed, receipts, abandoned) and reads the line back from the buffer,
 * with the line still queued or already in the buffer, and after the
 * line was trimmed away.  Needs a display for the widget; skipped
 * without one. */
#include "config.h"

#include <string.h>

#include "sc-message-log.h"

static gboolean have_display;

#define SKIP_WITHOUT_DISPLAY()                                        \
  G_STMT_START                                                        \
  {                                                                   \
    if (!have_display)                                                \
      {                                                               \
        g_test_skip ("no display: set DISPLAY (run under xvfb-run)"); \
        return;                                                       \
      }                                                               \
  }                                                                   \
  G_STMT_END

static ScMessageLog *
new_log (void)
{
  return g_object_ref_sink (SC_MESSAGE_LOG (sc_message_log_new ()));
}

/* The last line in the buffer, without its time stamp. */
static char *
last_line (ScMessageLog *log)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log));
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  const char *stamp_end;

  sc_message_log_flush (log);
  gtk_text_buffer_get_end_iter (buffer, &end);
  start = end;
  gtk_text_iter_backward_line (&start);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_strchomp (text);
  stamp_end = strstr (text, "] ");
  return g_strdup (stamp_end ? stamp_end + 2 : text);
}

static void
test_direct_delivered (void)
{
  g_autoptr (ScMessageLog) log = NULL;
  g_autofree char *sending = NULL;
  g_autofree char *accepted = NULL;
  g_autofree char *delivered = NULL;
  guint handle;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  handle = sc_message_log_append_sent (log, "→ #2 bob:", "hi");
  sending = last_line (log);
  g_assert_cmpstr (sending, ==, "→ #2 bob: hi  sending…");
  sc_message_log_sent_accepted (log, handle, 42, 1);
  accepted = last_line (log);
  g_assert_cmpstr (accepted, ==, "→ #2 bob: hi  accepted");
  sc_message_log_receipt (log, 42, TRUE, NULL);
  delivered = last_line (log);
  g_assert_cmpstr (delivered, ==, "→ #2 bob: hi  delivered");
  /* Finished: a second receipt for the id changes nothing. */
  sc_message_log_receipt (log, 42, FALSE, "late");
  g_clear_pointer (&delivered, g_free);
  delivered = last_line (log);
  g_assert_cmpstr (delivered, ==, "→ #2 bob: hi  delivered");
}

/* Accepted and receipted while the line still waits in the queue: the
 * line shows the final state when it is inserted. */
static void
test_queued_states (void)
{
  g_autoptr (ScMessageLog) log = NULL;
  g_autofree char *line = NULL;
  guint handle;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  handle = sc_message_log_append_sent (log, "→ #3 carol:", "queued");
  g_assert_cmpuint (sc_message_log_get_n_queued (log), ==, 1);
  sc_message_log_sent_accepted (log, handle, 7, 1);
  sc_message_log_receipt (log, 7, FALSE, "the recipient left");
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ #3 carol: queued  failed: the recipient left");
}

static void
test_broadcast_progress (void)
{
  g_autoptr (ScMessageLog) log = NULL;
  guint handle;
  char *line;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  handle = sc_message_log_append_sent (log, "→ everyone:", "lunch?");
  sc_message_log_sent_accepted (log, handle, 9, 3);
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ everyone: lunch?  delivered 0/3");
  g_free (line);
  sc_message_log_receipt (log, 9, TRUE, NULL);
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ everyone: lunch?  delivered 1/3");
  g_free (line);
  sc_message_log_receipt (log, 9, FALSE, "too slow");
  sc_message_log_receipt (log, 9, TRUE, NULL);
  line = last_line (log);
  g_assert_cmpstr (line, ==,
                   "→ everyone: lunch?  delivered 2/3, last failure: too slow");
  g_free (line);

  /* All delivered, and nobody to deliver to. */
  handle = sc_message_log_append_sent (log, "→ everyone:", "all");
  sc_message_log_sent_accepted (log, handle, 10, 2);
  sc_message_log_receipt (log, 10, TRUE, NULL);
  sc_message_log_receipt (log, 10, TRUE, NULL);
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ everyone: all  delivered to 2");
  g_free (line);
  handle = sc_message_log_append_sent (log, "→ everyone:", "alone");
  sc_message_log_sent_accepted (log, handle, 11, 0);
  line = last_line (log);
  g_assert_cmpstr (line, ==,
                   "→ everyone: alone  no other clients to deliver to");
  g_free (line);
}

static void
test_refused_and_abandoned (void)
{
  g_autoptr (ScMessageLog) log = NULL;
  guint refused, waiting;
  char *line;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  refused = sc_message_log_append_sent (log, "→ #5 eve:", "no");
  sc_message_log_sent_failed (log, refused, "no client has that id");
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ #5 eve: no  failed: no client has that id");
  g_free (line);

  waiting = sc_message_log_append_sent (log, "→ #6 dan:", "hold on");
  sc_message_log_sent_accepted (log, waiting, 12, 1);
  sc_message_log_abandon_pending (log, "unconfirmed: disconnected");
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ #6 dan: hold on  unconfirmed: disconnected");
  g_free (line);
  /* Nothing is followed any more: a late receipt changes nothing. */
  sc_message_log_receipt (log, 12, TRUE, NULL);
  line = last_line (log);
  g_assert_cmpstr (line, ==, "→ #6 dan: hold on  unconfirmed: disconnected");
  g_free (line);
}

/* A sent line trimmed away (or dropped from the queue) before its
 * answers: they are ignored, the other lines are untouched. */
static void
test_trimmed (void)
{
  g_autoptr (ScMessageLog) log = NULL;
  guint in_buffer, in_queue;
  char *line;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  sc_message_log_set_max_lines (log, 2);
  in_buffer = sc_message_log_append_sent (log, "→ #2 bob:", "old");
  sc_message_log_sent_accepted (log, in_buffer, 20, 1);
  sc_message_log_flush (log);
  in_queue = sc_message_log_append_sent (log, "→ #2 bob:", "dropped");
  sc_message_log_append (log, SC_LOG_SYSTEM, NULL, "one");
  sc_message_log_append (log, SC_LOG_SYSTEM, NULL, "two");
  /* "dropped" left the queue before it was shown; "old" is trimmed. */
  sc_message_log_sent_accepted (log, in_queue, 21, 1);
  sc_message_log_receipt (log, 20, TRUE, NULL);
  sc_message_log_receipt (log, 21, TRUE, NULL);
  line = last_line (log);
  g_assert_cmpstr (line, ==, "two");
  g_free (line);
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 2);
}

/* The buffer's text, one string. */
static char *
all_text (ScMessageLog *log)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log));
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static void
append_numbered (ScMessageLog *log, guint from, guint to)
{
  for (guint i = from; i <= to; i++)
    {
      g_autofree char *text = g_strdup_printf ("m%u.", i);

      sc_message_log_append (log, SC_LOG_INCOMING, "bob:", text);
    }
}

/* The messages that leave the log's top are counted, so that the
 * window knows which row of history its top line is: dropped from the
 * queue or trimmed from the buffer alike, the unread divider and notes
 * not.  Lines dropped from the queue are newer than the buffer's, whose
 * lines all go with them, older lines too: the log never shows a hole. */
static void
test_n_gone (void)
{
  g_autoptr (ScMessageLog) log = NULL;
  g_autofree char *text = NULL;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  sc_message_log_set_max_lines (log, 5);
  append_numbered (log, 1, 3);
  sc_message_log_mark_unread (log);
  append_numbered (log, 4, 8);
  /* m1 to m3 and the divider were dropped from the queue. */
  g_assert_cmpuint (sc_message_log_get_n_gone (log), ==, 3);
  sc_message_log_flush (log);
  g_assert_cmpuint (sc_message_log_get_n_gone (log), ==, 3);

  /* Older lines above: a note first, then a message from history. */
  g_assert_true (sc_message_log_prepend_at (log, SC_LOG_INCOMING,
                                            "bob:", "old.", 0, NULL, FALSE));
  g_assert_true (sc_message_log_prepend_note (log, "1 message in between", 0));
  append_numbered (log, 9, 9);
  sc_message_log_flush (log);
  g_assert_cmpuint (sc_message_log_get_n_gone (log), ==, 3);
  append_numbered (log, 10, 11);
  sc_message_log_flush (log);
  /* The note went first, uncounted; then "old.", m4 and m5. */
  g_assert_cmpuint (sc_message_log_get_n_gone (log), ==, 6);

  /* A divider in the buffer goes uncounted: m6 to m12 went. */
  sc_message_log_mark_unread (log);
  append_numbered (log, 12, 12);
  sc_message_log_flush (log);
  append_numbered (log, 13, 17);
  sc_message_log_flush (log);
  g_assert_cmpuint (sc_message_log_get_n_gone (log), ==, 13);
  text = all_text (log);
  g_assert_null (strstr (text, "New messages"));
  g_assert_null (strstr (text, "m12."));
  g_assert_nonnull (strstr (text, "m13."));
  g_clear_pointer (&text, g_free);

  /* Older lines, then more new lines than the log holds, queued: the
   * log shows the newest five and nothing older. */
  g_assert_true (sc_message_log_prepend_at (log, SC_LOG_INCOMING,
                                            "bob:", "older.", 0, NULL, FALSE));
  append_numbered (log, 18, 24);
  sc_message_log_flush (log);
  text = all_text (log);
  g_assert_null (strstr (text, "older."));
  g_assert_null (strstr (text, "m17."));
  g_assert_null (strstr (text, "m19."));
  g_assert_nonnull (strstr (text, "m20."));
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 5);
  /* m18 and m19 dropped, "older." and m13 to m17 trimmed. */
  g_assert_cmpuint (sc_message_log_get_n_gone (log), ==, 21);
}

static gboolean
log_realized (gpointer data)
{
  return gtk_widget_get_realized (data) &&
         gtk_widget_get_allocated_width (data) > 100;
}

static int
x_of (ScMessageLog *log, GtkTextIter *line_start, const char *needle)
{
  GtkTextIter at = *line_start;
  GdkRectangle rect;

  g_assert_true (
    gtk_text_iter_forward_search (&at, needle, 0, &at, NULL, NULL));
  gtk_text_view_get_iter_location (GTK_TEXT_VIEW (log), &at, &rect);
  return rect.x;
}

/* A right-to-left override in a message cannot reach past it: the text
 * is isolated (U+2068 ... U+2069), so the delivery state still reads
 * after it, left to right. */
static void
test_bidi_isolated (void)
{
  GtkWidget *window;
  ScMessageLog *log;
  GtkTextBuffer *buffer;
  GtkTextIter line, end;
  g_autofree char *text = NULL;
  guint handle;

  SKIP_WITHOUT_DISPLAY ();
  window = gtk_offscreen_window_new ();
  log = SC_MESSAGE_LOG (sc_message_log_new ());
  gtk_container_add (GTK_CONTAINER (window), GTK_WIDGET (log));
  gtk_window_set_default_size (GTK_WINDOW (window), 600, 200);
  gtk_widget_show_all (window);
  while (!log_realized (log))
    g_main_context_iteration (NULL, TRUE);

  handle = sc_message_log_append_sent (log, "→ bob:", "\u202Eabc");
  sc_message_log_sent_accepted (log, handle, 7, 1);
  sc_message_log_receipt (log, 7, TRUE, NULL);
  sc_message_log_flush (log);
  buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log));
  gtk_text_buffer_get_start_iter (buffer, &line);
  end = line;
  gtk_text_iter_forward_to_line_end (&end);
  text = gtk_text_iter_get_text (&line, &end);
  g_assert_nonnull (strstr (text, "\u2068\u202Eabc\u2069  delivered"));
  /* Laid out: the state right of every letter of the message. */
  while (gtk_events_pending ())
    gtk_main_iteration ();
  g_assert_cmpint (x_of (log, &line, "delivered"), >, x_of (log, &line, "a"));
  g_assert_cmpint (x_of (log, &line, "delivered"), >, x_of (log, &line, "c"));
  g_assert_cmpint (x_of (log, &line, "bob"), <, x_of (log, &line, "c"));
  gtk_widget_destroy (window);
}

/* A search matches the text of the lines only, not the time stamps,
 * names or delivery states the log adds, and counts every occurrence,
 * case aside, of whole characters: "cafe" is not in "Café", "x2" not in
 * "x²".  test-history.c's
 * /history/search/occurrences counts the same texts in history alike:
 * the window adds the two counts. */
static void
test_search_text_only (void)
{
  g_autoptr (ScMessageLog) log = NULL;

  SKIP_WITHOUT_DISPLAY ();
  log = new_log ();
  sc_message_log_append (log, SC_LOG_INCOMING, "bob:", "Bob, bob and BOB");
  sc_message_log_append (log, SC_LOG_INCOMING, "bob:", "Café au lait");
  sc_message_log_append (log, SC_LOG_INCOMING, "bob:", "aaaa");
  sc_message_log_append (log, SC_LOG_INCOMING, "bob:", "x² ﬁne");
  sc_message_log_append_at (log, SC_LOG_INCOMING, "→ bob:", "hi",
                            g_get_real_time (), "delivered", FALSE);
  sc_message_log_append (log, SC_LOG_SYSTEM, "bob", "joined");
  sc_message_log_append (log, SC_LOG_INCOMING, "bob:", "Straße");
  sc_message_log_append (log, SC_LOG_INCOMING,
                         "bob:", "किताबें \u0628\u064E\u0628");
  sc_message_log_flush (log);

  g_assert_cmpuint (sc_message_log_search (log, "bob"), ==, 3);
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_assert_true (sc_message_log_search_step (log, TRUE));
  g_assert_true (sc_message_log_search_step (log, TRUE));
  g_assert_false (sc_message_log_search_step (log, TRUE));
  g_assert_true (sc_message_log_search_step (log, FALSE));
  g_assert_cmpuint (sc_message_log_search (log, "cafe"), ==, 0);
  g_assert_cmpuint (sc_message_log_search (log, "CAFÉ"), ==, 1);
  g_assert_cmpuint (sc_message_log_search (log, "aa"), ==, 2);
  g_assert_cmpuint (sc_message_log_search (log, "x2"), ==, 0);
  g_assert_cmpuint (sc_message_log_search (log, "fi"), ==, 1);
  /* The same counts as history's (/history/search/occurrences). */
  g_assert_cmpuint (sc_message_log_search (log, "s"), ==, 2);
  g_assert_cmpuint (sc_message_log_search (log, "किताब"), ==, 0);
  g_assert_cmpuint (sc_message_log_search (log, "\u0628"), ==, 1);
  g_assert_cmpuint (sc_message_log_search (log, "joined"), ==, 1);
  g_assert_cmpuint (sc_message_log_search (log, "delivered"), ==, 0);
  g_assert_cmpuint (sc_message_log_search (log, "→"), ==, 0);
  g_assert_cmpuint (sc_message_log_search (log, "["), ==, 0);
  g_assert_cmpuint (sc_message_log_search (log, ": "), ==, 0);
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, -1);

  /* A note says something about the messages; it is not one. */
  g_assert_true (sc_message_log_prepend_note (log, "3 messages in between",
                                              g_get_real_time ()));
  g_assert_cmpuint (sc_message_log_search (log, "messages"), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  have_display = gtk_init_check (&argc, &argv);

  g_test_add_func ("/gui/message-log/direct-delivered", test_direct_delivered);
  g_test_add_func ("/gui/message-log/queued-states", test_queued_states);
  g_test_add_func ("/gui/message-log/broadcast-progress",
                   test_broadcast_progress);
  g_test_add_func ("/gui/message-log/refused-and-abandoned",
                   test_refused_and_abandoned);
  g_test_add_func ("/gui/message-log/trimmed", test_trimmed);
  g_test_add_func ("/gui/message-log/bidi-isolated", test_bidi_isolated);
  g_test_add_func ("/gui/message-log/n-gone", test_n_gone);
  g_test_add_func ("/gui/message-log/search-text-only", test_search_text_only);
  return g_test_run ();
}
