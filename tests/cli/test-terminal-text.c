/* test-terminal-text.c: cli-client/sc-terminal-text.c on byte strings:
 * controls, escapes and bidi characters neutralised, continuation lines
 * marked at the text's own breaks and at the terminal's width. */
#include "config.h"

#include <string.h>

#include "sc-terminal-text.h"
#include "sc-test-util.h"

static void
assert_sanitized (const char *text, const char *expected)
{
  g_autofree char *safe = sc_terminal_text_sanitize (text);

  g_assert_cmpstr (safe, ==, expected);
}

static void
test_controls (void)
{
  assert_sanitized ("plain text", "plain text");
  assert_sanitized ("a\x1b[2Jb", "a\xef\xbf\xbd[2Jb");
  assert_sanitized ("bell\x07", "bell\xef\xbf\xbd");
  assert_sanitized ("c1\xc2\x9b"
                    "31m",
                    "c1\xef\xbf\xbd"
                    "31m"); /* CSI */
  assert_sanitized ("del\x7f", "del\xef\xbf\xbd");
  assert_sanitized ("a\tb", "a b");
  /* One line: every break is shown, none taken. */
  assert_sanitized ("a\nb\rc\u2028d", "a\xef\xbf\xbd"
                                      "b\xef\xbf\xbd"
                                      "c\xef\xbf\xbd"
                                      "d");
  assert_sanitized ("not \xff utf-8\x1b", "not ? utf-8?");
}

static void
test_bidi_and_invisible (void)
{
  assert_sanitized ("abc\u202Edef", "abc\\u202Edef");
  assert_sanitized ("\u2067x\u2069", "\\u2067x\\u2069");
  assert_sanitized ("zero\u200Bwidth", "zero\\u200Bwidth");
  assert_sanitized ("\uFEFFbom", "\\uFEFFbom");
  assert_sanitized ("\u200Fmark", "\\u200Fmark");
  /* Visible text of any script stays as it is. */
  assert_sanitized ("שלום 你好 é", "שלום 你好 é");
}

static void
test_lines_kept (void)
{
  g_autofree char *lines =
    sc_terminal_text_sanitize_lines ("one\r\ntwo\rthree\u2028four\x1b");

  g_assert_cmpstr (lines, ==, "one\ntwo\nthree\nfour\xef\xbf\xbd");
}

static void
test_wrap_own_breaks (void)
{
  g_autofree char *wrapped = sc_terminal_text_wrap ("head: a\nfake line", 0);

  g_assert_cmpstr (wrapped, ==,
                   "head: a\n" SC_TERMINAL_TEXT_MARKER "fake line");
}

/* Text padded to wrap on the terminal: every piece after the first is
 * marked and no piece is wider than the terminal. */
static void
test_wrap_width (void)
{
  g_autofree char *text = g_strdup_printf (
    "Message from client 2: hi%*sMessage from client 1", 30, "");
  g_autofree char *wrapped = sc_terminal_text_wrap (text, 20);
  g_auto (GStrv) lines = g_strsplit (wrapped, "\n", -1);

  g_assert_cmpuint (g_strv_length (lines), >, 3);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_assert_cmpuint (sc_terminal_text_width (lines[i]), <=, 20);
      if (i > 0)
        g_assert_true (g_str_has_prefix (lines[i], SC_TERMINAL_TEXT_MARKER));
    }
}

/* Wide characters count two columns. */
static void
test_wrap_wide (void)
{
  g_autofree char *wrapped = sc_terminal_text_wrap ("你好你好你好", 8);
  g_auto (GStrv) lines = g_strsplit (wrapped, "\n", -1);

  g_assert_cmpuint (sc_terminal_text_width ("你好"), ==, 4);
  g_assert_cmpstr (lines[0], ==, "你好你好");
  g_assert_cmpstr (lines[1], ==, SC_TERMINAL_TEXT_MARKER "你好");
  g_assert_null (lines[2]);
}

static void
test_columns_from_environment (void)
{
  g_setenv ("COLUMNS", "57", TRUE);
  /* A pipe or file is no terminal: COLUMNS decides. */
  g_assert_cmpuint (sc_terminal_text_columns (-1), ==, 57);
  g_setenv ("COLUMNS", "junk", TRUE);
  g_assert_cmpuint (sc_terminal_text_columns (-1), ==, 0);
  g_unsetenv ("COLUMNS");
  g_assert_cmpuint (sc_terminal_text_columns (-1), ==, 0);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/terminal-text/controls", test_controls);
  g_test_add_func ("/terminal-text/bidi-and-invisible",
                   test_bidi_and_invisible);
  g_test_add_func ("/terminal-text/lines-kept", test_lines_kept);
  g_test_add_func ("/terminal-text/wrap/own-breaks", test_wrap_own_breaks);
  g_test_add_func ("/terminal-text/wrap/width", test_wrap_width);
  g_test_add_func ("/terminal-text/wrap/wide", test_wrap_wide);
  g_test_add_func ("/terminal-text/columns-from-environment",
                   test_columns_from_environment);
  return g_test_run ();
}
