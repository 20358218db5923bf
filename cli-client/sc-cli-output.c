/* sc-cli-output.c: reading answers and printing lines for sockchat-cli.
 *
 * Standard input is watched only while an answer is wanted, so lines
 * typed (or piped in) while a request is in flight wait their turn.  On a
 * terminal GNU readline edits the line; a line printed meanwhile is put
 * above the prompt and the half-typed line is drawn again below it.
 * Otherwise input is read as plain lines, each answer is echoed after its
 * prompt so that the transcript stays one line per prompt, and no escape
 * sequence is ever written.  A build without readline (-Dreadline=disabled)
 * uses plain mode on a terminal too.
 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#include "sc-cli-output.h"
#include "sc-terminal-text.h"

#define READ_CHUNK 4096

struct _ScCliOutput
{
  GObject parent_instance;

  gboolean interactive;
  gboolean reading;      /* a prompt is up and its answer is wanted */
  gboolean prompt_shown; /* plain mode: the prompt ends the current line */
  gboolean closed;
  char *prompt;
  guint stdin_watch;
  guint deliver_idle;

  /* Plain mode: bytes read but not yet taken as lines. */
  GString *input;
  gboolean eof;

  /* Readline mode: the line just accepted, owned by malloc(). */
  gboolean have_line;
  char *line;
};

enum
{
  SIGNAL_LINE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ScCliOutput, sc_cli_output, G_TYPE_OBJECT)

#ifdef HAVE_READLINE
/* Readline keeps one global state, so one output object at a time may
 * use it; its line handler finds that object here. */
static ScCliOutput *readline_owner;
#endif

static void
emit_line (ScCliOutput *self, const char *line)
{
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_LINE], 0, line);
  g_object_unref (self);
}

/* ------------------------------------------------------------------ */
/* Readline mode */

#ifdef HAVE_READLINE

static void
on_readline_line (char *line)
{
  ScCliOutput *self = readline_owner;

  g_assert (self != NULL);
  /* Removing the handler from inside it is what readline's own example
   * does; the answer is passed on once readline has returned. */
  rl_callback_handler_remove ();
  if (line != NULL && *line != '\0')
    add_history (line);
  self->line = line;
  self->have_line = TRUE;
}

static gboolean
on_stdin_readline (int fd, GIOCondition condition, gpointer data)
{
  ScCliOutput *self = data;
  g_autofree char *line = NULL;
  gboolean eof;

  rl_callback_read_char ();
  if (!self->have_line)
    return G_SOURCE_CONTINUE;

  self->have_line = FALSE;
  self->reading = FALSE;
  self->stdin_watch = 0;
  eof = self->line == NULL;
  line = g_strdup (self->line);
  free (self->line);
  self->line = NULL;
  if (eof)
    {
      /* Ctrl-D leaves the cursor after the prompt. */
      fputc ('\n', stdout);
      fflush (stdout);
    }
  emit_line (self, line);
  return G_SOURCE_REMOVE;
}
#endif /* HAVE_READLINE */

/* ------------------------------------------------------------------ */
/* Plain mode */

/* Takes the next complete line out of the input buffer; at end of input
 * an unterminated last line counts too.  Returns FALSE when there is
 * none yet.  *line is NULL at end of input. */
static gboolean
take_line (ScCliOutput *self, char **line)
{
  const char *newline = memchr (self->input->str, '\n', self->input->len);
  gsize length;

  if (newline == NULL && !self->eof)
    return FALSE;
  if (newline == NULL && self->input->len == 0)
    {
      *line = NULL;
      return TRUE;
    }
  length = newline ? (gsize) (newline - self->input->str) : self->input->len;
  *line = g_strndup (self->input->str, length);
  g_string_erase (self->input, 0,
                  newline ? (gssize) length + 1 : (gssize) length);
  length = strlen (*line);
  if (length > 0 && (*line)[length - 1] == '\r')
    (*line)[length - 1] = '\0';
  return TRUE;
}

/* Hands over the next line, if one is complete.  Returns FALSE if more
 * input is needed. */
static gboolean
deliver_plain (ScCliOutput *self)
{
  g_autofree char *line = NULL;

  if (!take_line (self, &line))
    return FALSE;
  self->reading = FALSE;
  self->prompt_shown = FALSE;
  /* The answer is not echoed by a pipe: write it after its prompt. */
  if (line != NULL)
    fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  emit_line (self, line);
  return TRUE;
}

static gboolean
on_deliver_idle (gpointer data)
{
  ScCliOutput *self = data;

  self->deliver_idle = 0;
  if (self->reading)
    deliver_plain (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdin_plain (int fd, GIOCondition condition, gpointer data)
{
  ScCliOutput *self = data;
  char buffer[READ_CHUNK];
  ssize_t n = read (fd, buffer, sizeof buffer);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n > 0)
    g_string_append_len (self->input, buffer, n);
  else
    self->eof = TRUE; /* a read error ends the input like end of file */

  if (!self->reading)
    {
      self->stdin_watch = 0;
      return G_SOURCE_REMOVE;
    }
  /* The watch is gone before the answer goes out: its handler may ask
   * for the next line at once. */
  if (memchr (self->input->str, '\n', self->input->len) != NULL || self->eof)
    {
      self->stdin_watch = 0;
      deliver_plain (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Public API */

/* Shows @prompt and reads one answer, handed over by ::line (NULL at
 * the end of input).  Standard input is not read between answers. */
void
sc_cli_output_read_line (ScCliOutput *self, const char *prompt)
{
  g_return_if_fail (SC_IS_CLI_OUTPUT (self));
  g_return_if_fail (prompt != NULL);
  g_return_if_fail (!self->reading);

  if (self->closed)
    return;
  g_free (self->prompt);
  self->prompt = g_strdup (prompt);
  self->reading = TRUE;

#ifdef HAVE_READLINE
  if (self->interactive)
    {
      rl_callback_handler_install (self->prompt, on_readline_line);
      self->stdin_watch = g_unix_fd_add (
        STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin_readline, self);
      return;
    }
#endif

  fputs (self->prompt, stdout);
  fflush (stdout);
  self->prompt_shown = TRUE;
  /* Lines read ahead (a script piped in) are answered from the buffer,
   * from the main loop rather than from inside the caller. */
  if (memchr (self->input->str, '\n', self->input->len) != NULL || self->eof)
    {
      if (self->deliver_idle == 0)
        self->deliver_idle = g_idle_add (on_deliver_idle, self);
    }
  else if (self->stdin_watch == 0)
    {
      self->stdin_watch = g_unix_fd_add (
        STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin_plain, self);
    }
}

/* Changes the prompt of the answer being read; it shows from the next
 * line printed on. */
void
sc_cli_output_set_prompt (ScCliOutput *self, const char *prompt)
{
  g_return_if_fail (SC_IS_CLI_OUTPUT (self));
  g_return_if_fail (prompt != NULL);

  if (!self->reading)
    return;
  g_free (self->prompt);
  self->prompt = g_strdup (prompt);
#ifdef HAVE_READLINE
  if (self->interactive)
    rl_set_prompt (self->prompt);
#endif
}

gboolean
sc_cli_output_is_reading (ScCliOutput *self)
{
  g_return_val_if_fail (SC_IS_CLI_OUTPUT (self), FALSE);
  return self->reading;
}

gboolean
sc_cli_output_is_interactive (ScCliOutput *self)
{
  g_return_val_if_fail (SC_IS_CLI_OUTPUT (self), FALSE);
  return self->interactive;
}

/* Prints one line (or several, separated by newlines), above the prompt
 * if one is up. */
void
sc_cli_output_print (ScCliOutput *self, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  g_return_if_fail (SC_IS_CLI_OUTPUT (self));

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

#ifdef HAVE_READLINE
  if (self->interactive && self->reading)
    {
      /* Take the prompt and the half-typed line off the screen, print,
       * then have readline draw both again on the fresh line below. */
      rl_clear_visible_line ();
      fputs (text, stdout);
      fputc ('\n', stdout);
      fflush (stdout);
      rl_on_new_line ();
      rl_redisplay ();
      return;
    }
#endif
  if (self->prompt_shown)
    fputc ('\n', stdout);
  fputs (text, stdout);
  fputc ('\n', stdout);
  if (self->prompt_shown)
    fputs (self->prompt, stdout);
  fflush (stdout);
}

/* Stops reading for good and gives the terminal back as it was. */
void
sc_cli_output_close (ScCliOutput *self)
{
  g_return_if_fail (SC_IS_CLI_OUTPUT (self));

  if (self->closed)
    return;
  self->closed = TRUE;
  g_clear_handle_id (&self->stdin_watch, g_source_remove);
  g_clear_handle_id (&self->deliver_idle, g_source_remove);
#ifdef HAVE_READLINE
  if (self->interactive && self->reading)
    {
      rl_callback_handler_remove ();
      fputc ('\n', stdout);
    }
  else
#endif
    if (self->prompt_shown)
    {
      fputc ('\n', stdout);
    }
  self->reading = FALSE;
  self->prompt_shown = FALSE;
  fflush (stdout);
}

/* Returns @text fit for the terminal on one line (sc-terminal-text.h).
 * (transfer full) */
char *
sc_cli_output_sanitize (const char *text)
{
  return sc_terminal_text_sanitize (text);
}

ScCliOutput *
sc_cli_output_new (gboolean interactive)
{
  ScCliOutput *self = g_object_new (SC_TYPE_CLI_OUTPUT, NULL);

#ifdef HAVE_READLINE
  self->interactive = interactive && readline_owner == NULL;
  if (self->interactive)
    {
      readline_owner = self;
      rl_readline_name = "sockchat-cli";
      /* Ctrl-C reaches the main loop's signal source, which exits
       * cleanly and gives the terminal back. */
      rl_catch_signals = 0;
      /* Answers are numbers, addresses and free text: Tab is a tab. */
      rl_bind_key ('\t', rl_insert);
    }
#else
  self->interactive = FALSE;
#endif
  return self;
}

static void
sc_cli_output_dispose (GObject *object)
{
  ScCliOutput *self = SC_CLI_OUTPUT (object);

  sc_cli_output_close (self);
#ifdef HAVE_READLINE
  if (readline_owner == self)
    readline_owner = NULL;
#endif
  G_OBJECT_CLASS (sc_cli_output_parent_class)->dispose (object);
}

static void
sc_cli_output_finalize (GObject *object)
{
  ScCliOutput *self = SC_CLI_OUTPUT (object);

  free (self->line);
  g_free (self->prompt);
  g_string_free (self->input, TRUE);
  G_OBJECT_CLASS (sc_cli_output_parent_class)->finalize (object);
}

static void
sc_cli_output_class_init (ScCliOutputClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sc_cli_output_dispose;
  object_class->finalize = sc_cli_output_finalize;

  /* (const char *line): the answer without its newline, or NULL at the
   * end of input. */
  signals[SIGNAL_LINE] = g_signal_new (
    "line", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
sc_cli_output_init (ScCliOutput *self)
{
  self->input = g_string_new (NULL);
}
