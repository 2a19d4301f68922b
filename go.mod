module github.com/pgjuju/pgjuju

go 1.26.8
