/* sampler: module placeholder until its sources land. */
typedef int profd_sampler_placeholder;
