/* render: module placeholder until its sources land. */
typedef int profd_render_placeholder;
