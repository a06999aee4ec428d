/* target: module placeholder until its sources land. */
typedef int profd_target_placeholder;
