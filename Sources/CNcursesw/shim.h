#ifndef SOFTMAX_LAB_CNCURSESW_SHIM_H
#define SOFTMAX_LAB_CNCURSESW_SHIM_H

// SwiftPM drops pkg-config's -D_XOPEN_SOURCE=600, which hides the wide-character API; ask for it directly.
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif

#include <langinfo.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <ncursesw/curses.h>
#include <wchar.h>

// Swift 6 rejects ncurses' mutable globals and cannot import its macros; these accessors stand in for them.
static inline WINDOW *sml_stdscr(void) { return stdscr; }
static inline int sml_lines(void) { return LINES; }
static inline int sml_cols(void) { return COLS; }
static inline int sml_colors(void) { return COLORS; }
static inline int sml_color_pairs(void) { return COLOR_PAIRS; }
static inline int sml_err(void) { return ERR; }
static inline int sml_ok(void) { return OK; }

static inline attr_t sml_a_normal(void) { return A_NORMAL; }
static inline attr_t sml_a_bold(void) { return A_BOLD; }
static inline attr_t sml_a_dim(void) { return A_DIM; }
static inline attr_t sml_a_reverse(void) { return A_REVERSE; }
static inline attr_t sml_a_underline(void) { return A_UNDERLINE; }
static inline attr_t sml_a_standout(void) { return A_STANDOUT; }

static inline int sml_key_resize(void) { return KEY_RESIZE; }
static inline int sml_key_mouse(void) { return KEY_MOUSE; }
static inline int sml_key_up(void) { return KEY_UP; }
static inline int sml_key_down(void) { return KEY_DOWN; }
static inline int sml_key_left(void) { return KEY_LEFT; }
static inline int sml_key_right(void) { return KEY_RIGHT; }
static inline int sml_key_sr(void) { return KEY_SR; }   // shift-up
static inline int sml_key_sf(void) { return KEY_SF; }   // shift-down
static inline int sml_key_sleft(void) { return KEY_SLEFT; }
static inline int sml_key_sright(void) { return KEY_SRIGHT; }
static inline int sml_key_enter(void) { return KEY_ENTER; }
static inline int sml_key_backspace(void) { return KEY_BACKSPACE; }
static inline int sml_key_dc(void) { return KEY_DC; }
static inline int sml_key_home(void) { return KEY_HOME; }
static inline int sml_key_end(void) { return KEY_END; }
static inline int sml_key_npage(void) { return KEY_NPAGE; }
static inline int sml_key_ppage(void) { return KEY_PPAGE; }
static inline int sml_key_btab(void) { return KEY_BTAB; }

static inline mmask_t sml_all_mouse_events(void) { return ALL_MOUSE_EVENTS | REPORT_MOUSE_POSITION; }
static inline mmask_t sml_button1_pressed(void) { return BUTTON1_PRESSED; }
static inline mmask_t sml_button1_clicked(void) { return BUTTON1_CLICKED; }
static inline mmask_t sml_button1_released(void) { return BUTTON1_RELEASED; }
static inline mmask_t sml_button4_pressed(void) { return BUTTON4_PRESSED; }
#if defined(BUTTON5_PRESSED)
static inline mmask_t sml_button5_pressed(void) { return BUTTON5_PRESSED; }
#else
static inline mmask_t sml_button5_pressed(void) { return 0; }
#endif

static inline int sml_color_pair(int n) { return (int)COLOR_PAIR(n); }

/// Puts one wide-character cell (a single code point) with attributes and a colour pair at (y, x).
static inline int sml_put_cell(int y, int x, wchar_t ch, attr_t attrs, short pair) {
  cchar_t cell;
  wchar_t text[2] = {ch, 0};
  setcchar(&cell, text, attrs, pair, NULL);
  return mvadd_wch(y, x, &cell);
}

static inline int sml_setlocale_all(void) { return setlocale(LC_ALL, "") != NULL; }

// ---- Additions for the terminal backend (Sources/softmax-lab/Terminal) ----

static inline WINDOW *sml_curscr(void) { return curscr; }
static inline int sml_key_code_yes(void) { return KEY_CODE_YES; }

/// Starts curses on the process's stdin/stdout; NULL (no exit, unlike initscr) when the terminal type is unknown.
static inline SCREEN *sml_newterm(void) { return newterm(NULL, stdout, stdin); }

/// True when the current locale's codeset is UTF-8 (call after setlocale).
static inline int sml_codeset_is_utf8(void) {
  const char *cs = nl_langinfo(CODESET);
  return cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0 || strcmp(cs, "utf-8") == 0);
}

/// The key code ncurses assigned to the terminfo string capability `capname` (e.g. "kUP"), or 0 when absent.
static inline int sml_key_code_for_capability(const char *capname) {
  char *seq = tigetstr(capname);
  if (seq == NULL || seq == (char *)-1 || seq[0] == 0) return 0;
  int code = key_defined(seq);
  return code > 0 ? code : 0;
}

/// Binds `seq` to `code` unless the sequence (or a prefix of it) is already bound.
static inline void sml_define_key_if_unbound(const char *seq, int code) {
  if (key_defined(seq) == 0) define_key(seq, code);
}

/// Reads the pending mouse event; returns OK/ERR.
static inline int sml_getmouse(int *x, int *y, unsigned long *bstate) {
  MEVENT ev;
  if (getmouse(&ev) != OK) return ERR;
  *x = ev.x;
  *y = ev.y;
  *bstate = (unsigned long)ev.bstate;
  return OK;
}

/// A colour pair for (fg, bg) (-1 = default), managed by ncurses (alloc_pair); -1 on failure.
static inline int sml_alloc_pair(int fg, int bg) { return alloc_pair(fg, bg); }

/// Like sml_put_cell, but the pair travels as an int through setcchar's `opts` (extended pairs beyond 32767).
static inline int sml_put_cell_ext(int y, int x, wchar_t ch, attr_t attrs, int pair) {
  cchar_t cell;
  wchar_t text[2] = {ch, 0};
  int p = pair;
  setcchar(&cell, text, attrs, (short)(pair <= 32767 ? pair : 0), &p);
  return mvadd_wch(y, x, &cell);
}

/// Keeps large arrays on the heap instead of fresh mmap'd pages: every keystroke on a 131,072-class vector allocates
/// megabyte arrays, and with glibc's default 128 KB threshold each one costs hundreds of page faults.
static inline void sml_tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
}

#endif
