/* What a dataset is besides its pixels: the built-in sets' class names, the name rule, and
   whether data fits a model made for some dataset. */
#include "data/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fmnist_classes[10] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static const char *const cifar10_classes[10] = {
	"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

/* CIFAR-100's fine labels, in label order (the list in its fine_label_names.txt). */
static const char *const cifar100_classes[100] = {
	"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
	"bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
	"caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
	"crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
	"girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
	"lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
	"oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
	"plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
	"rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
	"spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
	"telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
	"wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
};

const char *const *dataset_builtin_classes(const char *name)
{
	if (!strcmp(name, "fashion-mnist"))
		return fmnist_classes;
	if (!strcmp(name, "cifar10"))
		return cifar10_classes;
	if (!strcmp(name, "cifar100"))
		return cifar100_classes;
	return NULL;
}

int dataset_set_builtin_classes(Dataset *d, NashErr *err)
{
	const char *const *names = dataset_builtin_classes(d->name);
	if (d->class_names || !names)
		return 0;
	d->class_names = calloc((size_t)d->n_classes, NASH_CLASS_NAME_MAX);
	if (!d->class_names)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(d->dir).s);
	for (int k = 0; k < d->n_classes; k++)
		snprintf(d->class_names + (size_t)k * NASH_CLASS_NAME_MAX, NASH_CLASS_NAME_MAX, "%s", names[k]);
	return 0;
}

int dataset_name_ok(const char *name)
{
	size_t n = strlen(name);
	int alnum = 0; /* "." or "--" name nothing */
	if (n == 0 || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		int an = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!an && ch != '.' && ch != '_' && ch != '+' && ch != '-')
			return 0;
		alnum |= an;
	}
	return alnum;
}

int dataset_check_fit(const Dataset *d, const char *what, const char *name, int c, int h, int w,
		      int n_classes, NashErr *err)
{
	if (d->c != c || d->h != h || d->w != w || d->n_classes != n_classes)
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: the model is for %dx%dx%d images in %d classes, the data %s has %dx%dx%d in %d",
				what, c, h, w, n_classes, d->name, d->c, d->h, d->w, d->n_classes);
	if (strcmp(d->name, name))
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: the model is for the dataset '%s', the data is '%s' (of the same shape and classes; "
				"a dataset file's name is its 'name' attribute)",
				what, name, d->name);
	return 0;
}
