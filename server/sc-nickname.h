/* sc-nickname.h: what makes a nickname safe to show, and when two
 * nicknames count as the same (docs/PROTOCOL.md, 5.5).
 *
 * A nickname is shown to other people as the name of whoever sent a
 * message, so it must not be able to pass for someone else's: it may not
 * hide characters (format characters such as bidi overrides and zero-width
 * spaces), break a line, or start or end with white space, and it is
 * compared with the names in use after Unicode NFC and case folding
 * (its "key") and by UTS #39 confusable skeletons (ICU's uspoof, its
 * "looks"), so "Alice", "alice", "aIice" and a Cyrillic "аlice" are one
 * name.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SC_NICKNAME_ERROR (sc_nickname_error_quark ())

/* Why a nickname is not allowed; the message says it in English, for
 * the reason field of the reply. */
typedef enum
{
  SC_NICKNAME_ERROR_LENGTH,     /* not 1 to SC_NICKNAME_MAX bytes */
  SC_NICKNAME_ERROR_UTF8,       /* not valid UTF-8 */
  SC_NICKNAME_ERROR_CONTROL,    /* a control character (C0, C1) */
  SC_NICKNAME_ERROR_LINE_BREAK, /* U+2028, U+2029 */
  SC_NICKNAME_ERROR_INVISIBLE,  /* drawn as nothing: Cf, default ignorable */
  SC_NICKNAME_ERROR_EDGE_SPACE, /* starts or ends with white space */
  SC_NICKNAME_ERROR_ONLY_SPACE, /* nothing but white space */
} ScNicknameError;

GQuark sc_nickname_error_quark (void);

gboolean sc_nickname_check (const char *nickname, GError **error);
char *sc_nickname_key (const char *nickname);
/* How many forms sc_nickname_looks() gives. */
#define SC_NICKNAME_N_LOOKS 2

GStrv sc_nickname_looks (const char *nickname);

G_END_DECLS
