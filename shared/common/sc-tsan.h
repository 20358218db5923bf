/* sc-tsan.h: happens-before annotations for ThreadSanitizer.
 *
 * GLib's mutexes, queues and GTask hand-overs synchronise through code
 * that is not built with ThreadSanitizer, so it cannot see that memory
 * handed from one thread to another through them is ordered.  Where
 * SockChat hands data across threads through GLib, it states the order
 * itself: SC_HAPPENS_BEFORE (p) in the giving thread, SC_HAPPENS_AFTER (p)
 * in the taking one.  Both vanish in builds without ThreadSanitizer.
 */
#pragma once

#if defined(__SANITIZE_THREAD__)
#define SC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SC_TSAN 1
#endif
#endif

#ifdef SC_TSAN
void __tsan_acquire (void *address);
void __tsan_release (void *address);
#define SC_HAPPENS_BEFORE(address) __tsan_release ((void *) (address))
#define SC_HAPPENS_AFTER(address)  __tsan_acquire ((void *) (address))
#else
#define SC_HAPPENS_BEFORE(address) ((void) (address))
#define SC_HAPPENS_AFTER(address)  ((void) (address))
#endif
