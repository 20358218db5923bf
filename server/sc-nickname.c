/* sc-nickname.c: nickname safety rules, comparison keys and confusable
 * skeletons. */
#include "config.h"

#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>

#include "sc-nickname.h"
#include "sc-protocol.h"
#include "sc-tsan.h"

GQuark
sc_nickname_error_quark (void)
{
  return g_quark_from_static_string ("sc-nickname-error-quark");
}

/* Characters drawn as nothing that no Unicode property names: U+2800
 * BRAILLE PATTERN BLANK is a symbol whose glyph is empty. */
static gboolean
is_blank_symbol (gunichar c)
{
  return c == 0x2800;
}

/* The reason a single character may not appear anywhere in a nickname,
 * or NULL.  Format characters (Unicode category Cf: bidi embeddings,
 * overrides and isolates, zero-width spaces and joiners, the BOM) change
 * how the text around them looks without being seen themselves; so do
 * the other default-ignorable code points (the combining grapheme
 * joiner, variation selectors, Hangul fillers), which a renderer draws
 * as nothing, and blank symbols. */
static const char *
forbidden_character (gunichar c, ScNicknameError *code)
{
  if (u_hasBinaryProperty ((UChar32) c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
      is_blank_symbol (c))
    {
      *code = SC_NICKNAME_ERROR_INVISIBLE;
      return "a nickname may not contain invisible characters (bidi "
             "controls, zero-width characters, variation selectors, fillers)";
    }
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
      *code = SC_NICKNAME_ERROR_CONTROL;
      return "a nickname may not contain control characters";
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      *code = SC_NICKNAME_ERROR_LINE_BREAK;
      return "a nickname may not contain line or paragraph separators";
    case G_UNICODE_FORMAT:
      *code = SC_NICKNAME_ERROR_INVISIBLE;
      return "a nickname may not contain invisible format characters "
             "(bidi controls, zero-width characters)";
    default: return NULL;
    }
}

static gboolean
check_characters (const char *nickname, GError **error)
{
  gboolean all_space = TRUE;

  for (const char *p = nickname; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      ScNicknameError code;
      const char *why = forbidden_character (c, &code);

      if (why != NULL)
        {
          g_set_error_literal (error, SC_NICKNAME_ERROR, code, why);
          return FALSE;
        }
      all_space = all_space && g_unichar_isspace (c);
    }
  if (all_space)
    {
      g_set_error_literal (error, SC_NICKNAME_ERROR,
                           SC_NICKNAME_ERROR_ONLY_SPACE,
                           "a nickname may not be only white space");
      return FALSE;
    }
  return TRUE;
}

static gboolean
has_edge_space (const char *nickname)
{
  const char *last =
    g_utf8_find_prev_char (nickname, nickname + strlen (nickname));

  return g_unichar_isspace (g_utf8_get_char (nickname)) ||
         (last != NULL && g_unichar_isspace (g_utf8_get_char (last)));
}

/* Whether @nickname may be taken at all, whoever uses which names.  The
 * empty nickname ("none") is not a nickname and is not checked here. */
gboolean
sc_nickname_check (const char *nickname, GError **error)
{
  gsize length;

  g_return_val_if_fail (nickname != NULL, FALSE);

  length = strlen (nickname);
  if (length == 0 || length > SC_NICKNAME_MAX)
    {
      g_set_error (error, SC_NICKNAME_ERROR, SC_NICKNAME_ERROR_LENGTH,
                   "a nickname is 1 to %d bytes", SC_NICKNAME_MAX);
      return FALSE;
    }
  if (!g_utf8_validate (nickname, length, NULL))
    {
      g_set_error_literal (error, SC_NICKNAME_ERROR, SC_NICKNAME_ERROR_UTF8,
                           "a nickname must be UTF-8");
      return FALSE;
    }
  if (!check_characters (nickname, error))
    return FALSE;
  if (has_edge_space (nickname))
    {
      g_set_error_literal (error, SC_NICKNAME_ERROR,
                           SC_NICKNAME_ERROR_EDGE_SPACE,
                           "a nickname may not start or end with white space");
      return FALSE;
    }
  return TRUE;
}

/* The form in which two nicknames are the same name: NFC, then case
 * folded, then NFC again (folding can undo composition, e.g. for U+0130).
 * @nickname must be valid UTF-8.  (transfer full) */
char *
sc_nickname_key (const char *nickname)
{
  g_autofree char *composed = NULL;
  g_autofree char *folded = NULL;

  g_return_val_if_fail (nickname != NULL, NULL);

  composed = g_utf8_normalize (nickname, -1, G_NORMALIZE_NFC);
  if (composed == NULL)
    return g_strdup (nickname);
  folded = g_utf8_casefold (composed, -1);
  return g_utf8_normalize (folded, -1, G_NORMALIZE_NFC);
}

/* One checker for the whole process: after it is opened it is only read,
 * and ICU allows concurrent skeleton calls on one checker. */
static USpoofChecker *
spoof_checker (void)
{
  static gsize once = 0;
  static USpoofChecker *checker = NULL;

  if (g_once_init_enter (&once))
    {
      UErrorCode status = U_ZERO_ERROR;
      USpoofChecker *opened = uspoof_open (&status);

      if (U_FAILURE (status))
        {
          g_warning ("ICU spoof checker unavailable (%s): confusable "
                     "nicknames are compared by case-folded form only",
                     u_errorName (status));
          opened = NULL;
        }
      checker = opened;
      /* GLib's once is not instrumented for ThreadSanitizer. */
      SC_HAPPENS_BEFORE (&once);
      g_once_init_leave (&once, 1);
    }
  SC_HAPPENS_AFTER (&once);
  return checker;
}

/* The UTS #39 skeleton of @text, or a copy of it when ICU cannot tell.
 * (transfer full) */
static char *
skeleton_of (const char *text)
{
  USpoofChecker *checker = spoof_checker ();
  UErrorCode status = U_ZERO_ERROR;
  char *skeleton;
  int32_t length;

  if (checker == NULL)
    return g_strdup (text);
  length = uspoof_getSkeletonUTF8 (checker, 0, text, -1, NULL, 0, &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE (status))
    return g_strdup (text);
  status = U_ZERO_ERROR;
  skeleton = g_malloc (length + 1);
  uspoof_getSkeletonUTF8 (checker, 0, text, -1, skeleton, length + 1, &status);
  if (U_FAILURE (status))
    {
      g_free (skeleton);
      return g_strdup (text);
    }
  return skeleton;
}

/* The forms in which two nicknames look alike: a server lets only one
 * nickname with any of them be in use.  UTS #39 compares skeletons case
 * and all, while a nickname is one name in any case, and neither order of
 * folding and skeleton sees every pair:
 * - the skeleton of the key: "Alice" and "alice", "ALICE" and "alice",
 *   "аlice" in Cyrillic, "rn" and "m";
 * - the key of the skeleton, skeleton again: "aIice" with a capital I,
 *   "AIice", "G00D" and "good", "0live" and "olive", which folding first
 *   would have made "aiice", "g00d" and "0live".
 * Each is tagged with its kind, so both can share one table.  Falls back
 * to the key when ICU cannot tell.  (transfer full) */
GStrv
sc_nickname_looks (const char *nickname)
{
  g_autofree char *key = NULL;
  g_autofree char *raw_skeleton = NULL;
  g_autofree char *skeleton_key = NULL;
  g_autofree char *of_key = NULL;
  g_autofree char *of_skeleton = NULL;
  GStrv looks = g_new0 (char *, SC_NICKNAME_N_LOOKS + 1);

  g_return_val_if_fail (nickname != NULL, NULL);

  key = sc_nickname_key (nickname);
  of_key = skeleton_of (key);
  raw_skeleton = skeleton_of (nickname);
  skeleton_key = sc_nickname_key (raw_skeleton);
  of_skeleton = skeleton_of (skeleton_key);
  looks[0] = g_strconcat ("k:", of_key, NULL);
  looks[1] = g_strconcat ("s:", of_skeleton, NULL);
  return looks;
}
