/* Internal to the data layer: what the dataset file's reader (data_h5.c, data_h5_root.c) and
   writer (data_h5_write.c) share. */
#ifndef NASH_DATA_H5_H
#define NASH_DATA_H5_H

#define MAX_SIDE 4096   /* image height and width */
#define BLOCK_PIXELS (8u << 20) /* bytes of NHWC pixels converted at a time */

#endif
