/* blob: module placeholder until its sources land. */
typedef int profd_blob_placeholder;
