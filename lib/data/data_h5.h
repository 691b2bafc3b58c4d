/* Internal to the data layer: what the dataset file's reader (data_h5.c, data_h5_root.c), its
   writer (data_h5_write.c) and the specs (data_spec.c) share. */
#ifndef NASH_DATA_H5_H
#define NASH_DATA_H5_H

#define MAX_SIDE 4096   /* image height and width */
#define BLOCK_PIXELS (8u << 20) /* bytes of NHWC pixels converted at a time */

/* When path, given where a dataset is wanted, is something a dataset is made from or given as
   otherwise, an error (with code) saying what to run or give instead, and 0: a folder of
   CIFAR-10, CIFAR-100 or Fashion-MNIST files (cifar10:DIR ...), any other folder (a folder of
   images: nash-data pack DIR -o FILE.h5, then h5:FILE.h5), and unless as_h5 (the path came
   as h5:PATH) an HDF5 file (h5:PATH). Else 1 and err untouched. */
int data_path_hint(NashErr *err, int code, const char *path, int as_h5);

#endif
