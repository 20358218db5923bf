/* test-nickname.c: the nickname rules of server/sc-nickname.c, without a
 * server: which names are unsafe, and which count as the same name. */
#include "config.h"

#include "sc-nickname.h"
#include "sc-test-util.h"

static void
assert_refused (const char *nickname, ScNicknameError code)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (sc_nickname_check (nickname, &error));
  g_assert_error (error, SC_NICKNAME_ERROR, (gint) code);
  g_assert_cmpstr (error->message, !=, "");
}

static void
test_safe_names (void)
{
  const char *safe[] = { "alice", "Bob",    "José",     "李雷", "a b",
                         "x",     "ümlaut", "ab-c_d.e", "🙂", "аlice" };

  for (gsize i = 0; i < G_N_ELEMENTS (safe); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (sc_nickname_check (safe[i], &error));
      g_assert_no_error (error);
    }
}

static void
test_format_characters (void)
{
  assert_refused ("ali\u202Eec", SC_NICKNAME_ERROR_INVISIBLE);    /* RLO */
  assert_refused ("al\u200Bice", SC_NICKNAME_ERROR_INVISIBLE);    /* ZWSP */
  assert_refused ("\uFEFFalice", SC_NICKNAME_ERROR_INVISIBLE);    /* BOM */
  assert_refused ("a\u2066b\u2069", SC_NICKNAME_ERROR_INVISIBLE); /* LRI */
  assert_refused ("a\u200Db", SC_NICKNAME_ERROR_INVISIBLE);       /* ZWJ */
}

/* Not format characters, yet drawn as nothing: "mallory" followed by
 * one of them looks exactly like "mallory" and has another skeleton. */
static void
test_invisible_characters (void)
{
  assert_refused ("mal\u034Flory", SC_NICKNAME_ERROR_INVISIBLE); /* CGJ */
  assert_refused ("mallory\uFE0F", SC_NICKNAME_ERROR_INVISIBLE); /* VS16 */
  assert_refused ("mallory\u180B", SC_NICKNAME_ERROR_INVISIBLE); /* FVS1 */
  assert_refused ("mallory\u17B4", SC_NICKNAME_ERROR_INVISIBLE);
  assert_refused ("mallory\u3164", SC_NICKNAME_ERROR_INVISIBLE); /* filler */
  assert_refused ("\u115F\u1160", SC_NICKNAME_ERROR_INVISIBLE);
  assert_refused ("\uFFA0", SC_NICKNAME_ERROR_INVISIBLE);
  assert_refused ("mallory\u2800", SC_NICKNAME_ERROR_INVISIBLE); /* braille */
}

static void
test_line_breaks_and_controls (void)
{
  assert_refused ("alice\u2028bob", SC_NICKNAME_ERROR_LINE_BREAK);
  assert_refused ("alice\u2029", SC_NICKNAME_ERROR_LINE_BREAK);
  assert_refused ("alice\nbob", SC_NICKNAME_ERROR_CONTROL);
  assert_refused ("alice\rbob", SC_NICKNAME_ERROR_CONTROL);
  assert_refused ("a\xc2\x85"
                  "b",
                  SC_NICKNAME_ERROR_CONTROL); /* NEL */
  assert_refused ("a\x1b[31mb", SC_NICKNAME_ERROR_CONTROL);
  assert_refused ("a\tb", SC_NICKNAME_ERROR_CONTROL);
}

static void
test_white_space (void)
{
  assert_refused ("   ", SC_NICKNAME_ERROR_ONLY_SPACE);
  assert_refused ("\u3000", SC_NICKNAME_ERROR_ONLY_SPACE);
  assert_refused (" bob", SC_NICKNAME_ERROR_EDGE_SPACE);
  assert_refused ("bob ", SC_NICKNAME_ERROR_EDGE_SPACE);
  assert_refused ("bob\u00A0", SC_NICKNAME_ERROR_EDGE_SPACE);
}

static void
test_length_and_encoding (void)
{
  assert_refused ("", SC_NICKNAME_ERROR_LENGTH);
  assert_refused ("123456789012345678901234567890123",
                  SC_NICKNAME_ERROR_LENGTH);
  assert_refused ("a\xff", SC_NICKNAME_ERROR_UTF8);
}

static void
assert_same_key (const char *a, const char *b)
{
  g_autofree char *key_a = sc_nickname_key (a);
  g_autofree char *key_b = sc_nickname_key (b);

  g_assert_cmpstr (key_a, ==, key_b);
}

static void
test_keys (void)
{
  g_autofree char *alice = sc_nickname_key ("alice");
  g_autofree char *cyrillic = sc_nickname_key ("аlice");

  assert_same_key ("Bob", "bob");
  assert_same_key ("BOB", "bob");
  /* NFC (U+00E9) and NFD (e + U+0301). */
  assert_same_key ("Jos\u00e9", "jose\u0301");
  assert_same_key ("STRASSE", "straße");
  /* The Cyrillic a is another letter: only the skeleton joins them. */
  g_assert_cmpstr (alice, !=, cyrillic);
}

/* Whether @a and @b share a look, as the registry compares them. */
static void
assert_confusable (const char *a, const char *b, gboolean expected)
{
  g_auto (GStrv) looks_a = sc_nickname_looks (a);
  g_auto (GStrv) looks_b = sc_nickname_looks (b);
  gboolean shared = FALSE;

  g_assert_cmpuint (g_strv_length (looks_a), ==, SC_NICKNAME_N_LOOKS);
  for (guint i = 0; looks_a[i] != NULL; i++)
    shared =
      shared || g_strv_contains ((const char *const *) looks_b, looks_a[i]);
  g_assert_cmpint (shared, ==, expected);
}

static void
test_skeletons (void)
{
  assert_confusable ("аlice", "alice", TRUE); /* Cyrillic a */
  assert_confusable ("аlicе", "Alice", TRUE); /* Cyrillic a and e */
  assert_confusable ("Bob", "bob", TRUE);
  assert_confusable ("ALICE", "alice", TRUE);
  assert_confusable ("jos\u00e9", "Jose\u0301", TRUE);
  assert_confusable ("paypal", "pаypаl", TRUE);
  assert_confusable ("rn", "m", TRUE);
  assert_confusable ("alice", "bob", FALSE);
  assert_confusable ("alice", "alicia", FALSE);
  assert_confusable ("李雷", "韩梅梅", FALSE);
}

/* Capital I looks like l, and O like 0, though folding makes them i and
 * o: a skeleton taken after folding alone misses these. */
static void
test_skeletons_of_capitals (void)
{
  assert_confusable ("aIice", "alice", TRUE);
  assert_confusable ("AIice", "alice", TRUE);
  assert_confusable ("biII", "bill", TRUE);
  assert_confusable ("Iuke", "luke", TRUE);
  assert_confusable ("paypaI", "paypal", TRUE);
  assert_confusable ("0live", "Olive", TRUE);
  assert_confusable ("G00D", "good", TRUE);
  assert_confusable ("Ivan", "ivan", TRUE);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/nickname/safe", test_safe_names);
  g_test_add_func ("/nickname/format-characters", test_format_characters);
  g_test_add_func ("/nickname/invisible-characters", test_invisible_characters);
  g_test_add_func ("/nickname/line-breaks-and-controls",
                   test_line_breaks_and_controls);
  g_test_add_func ("/nickname/white-space", test_white_space);
  g_test_add_func ("/nickname/length-and-encoding", test_length_and_encoding);
  g_test_add_func ("/nickname/keys", test_keys);
  g_test_add_func ("/nickname/skeletons", test_skeletons);
  g_test_add_func ("/nickname/skeletons-of-capitals",
                   test_skeletons_of_capitals);
  return g_test_run ();
}
