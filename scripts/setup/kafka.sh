#!/usr/bin/env bash
# Resolves the Apache Kafka broker jars from Maven Central into .cache/kafka/<version>/libs (once).
# The version is deploy/kafka/pom.xml's unless PDM_KAFKA_VERSION names another (e.g. 3.9.1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
version="${PDM_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/deploy/kafka/pom.xml")}"
[[ "$version" =~ ^[34]\.[0-9]+\.[0-9]+$ ]] || die "PDM_KAFKA_VERSION=$version is not a Kafka 3.x or 4.x release such as 4.4.0 or 3.9.1"
libs="$cache/kafka/$version/libs"
if [ -f "$libs/.complete" ]; then say "kafka: $version jars present (cached)"; exit 0; fi
hint="or set PDM_KAFKA_BROKERS to an existing broker to skip the local one"
need java "install Java 17 (apt-get install openjdk-17-jre-headless) $hint"
need mvn "install Maven (apt-get install maven) $hint"
say "kafka: resolving org.apache.kafka:kafka_2.13:$version and dependencies from Maven Central (~46 MB, once)"
rm -rf "$libs" && mkdir -p "$libs"
mvn -q -B -f "$root/deploy/kafka/pom.xml" -Dkafka.version="$version" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs" >"$cache/kafka/mvn.log" 2>&1 \
  || die "mvn could not resolve Kafka $version (see $cache/kafka/mvn.log: $(tail -1 "$cache/kafka/mvn.log")) $hint"
touch "$libs/.complete"
say "kafka: $version ready in $libs"
