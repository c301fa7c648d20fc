/* gen_data: synthetic merchant transactions (amount, fraud, category) for
 * the examples. Deterministic for a given --seed. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t state;

static uint64_t next(void) /* splitmix64 */
{
	uint64_t z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(void) { return (double)(next() >> 11) * 0x1p-53; }

static double normal(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static const struct {
	const char *name;
	double weight, log_mean, fraud_base;
} cats[] = {
	{"grocery", 0.35, 3.2, 0.002},    {"fuel", 0.15, 3.8, 0.004},
	{"restaurant", 0.20, 3.5, 0.003}, {"electronics", 0.10, 5.5, 0.02},
	{"travel", 0.08, 6.0, 0.015},     {"online", 0.12, 4.2, 0.03},
};

static int write_merchant(const char *path, long rows, int m)
{
	char tmp[4200];
	FILE *fp;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "gen_data: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	fprintf(fp, "amount,fraud,category\n");
	for (long i = 0; i < rows; i++) {
		double u = uniform(), acc = 0;
		size_t c = 0;
		for (; c + 1 < sizeof(cats) / sizeof(cats[0]); c++)
			if (u < (acc += cats[c].weight))
				break;
		/* merchants differ a little in their customers' spending */
		double amount = exp(cats[c].log_mean + 0.1 * m + 0.9 * normal());
		if (amount > 20000)
			amount = 20000;
		if (amount < 0.5)
			amount = 0.5;
		/* fraud: likelier for large amounts in risky categories */
		double p = cats[c].fraud_base * (amount > 500 ? 4 : 1);
		fprintf(fp, "%.2f,%d,%s\n", amount, uniform() < p, cats[c].name);
	}
	if (fclose(fp) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "gen_data: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long merchants = 3, rows = 1000;
	unsigned long long seed = 1;
	const char *dir = "examples/data";

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--merchants") == 0 && v)
			merchants = strtol(v, NULL, 10);
		else if (strcmp(argv[i], "--rows") == 0 && v)
			rows = strtol(v, NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && v)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(argv[i], "--out") == 0 && v)
			dir = v;
		else {
			fprintf(stderr, "usage: gen_data [--merchants N] [--rows R] [--seed S] "
					"[--out DIR]\nwrites DIR/merchant0.csv ... with columns "
					"amount,fraud,category\n");
			return 1;
		}
		i++;
	}
	if (merchants < 1 || merchants > 64 || rows < 0) {
		fprintf(stderr, "gen_data: --merchants 1..64, --rows >= 0\n");
		return 1;
	}
	state = seed;
	for (long m = 0; m < merchants; m++) {
		char path[4096];
		if (strlen(dir) > 4000) {
			fprintf(stderr, "gen_data: --out path too long\n");
			return 1;
		}
		snprintf(path, sizeof(path), "%s/merchant%ld.csv", dir, m);
		if (write_merchant(path, rows + (long)(next() % (rows / 5 + 1)), (int)m) != 0)
			return 1;
	}
	return 0;
}
