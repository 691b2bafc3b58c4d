/* Limits shared by every layer. */
#ifndef NASH_LIMITS_H
#define NASH_LIMITS_H

#define NASH_MAX_CHANNELS 4 /* input image channels */

#endif
