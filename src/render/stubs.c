/* temporary */
#include "render/internal.h"
int render_html(const profd_profile *p, const profd_profile *before, const profd_render_opts *o,
                FILE *out, profd_error *err) { (void)p;(void)before;(void)o;(void)out;(void)err; return 0; }
int render_svg(const profd_profile *p, const profd_render_opts *o, FILE *out) { (void)p;(void)o;(void)out; return 0; }
int render_pprof(const profd_profile *p, FILE *out, profd_error *err) { (void)p;(void)out;(void)err; return 0; }
