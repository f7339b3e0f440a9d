module github.com/greensight/vzarr

go 1.26
